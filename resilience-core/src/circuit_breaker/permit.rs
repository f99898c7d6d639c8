//! Permits: RAII guards for one admitted call.

use std::fmt;
use std::sync::Arc;

use super::core::{Shared, Ticket};
use super::telemetry::Judged;
use crate::error::find;
use crate::{Class, Classify, Error};

/// Leave to run one call, from [`CircuitBreaker::try_acquire`](super::CircuitBreaker::try_acquire).
///
/// Report the outcome with [`record`](Permit::record) (or
/// [`record_result`](Permit::record_result)). A permit dropped without a result counts as
/// *cancelled*: nothing is recorded against the dependency and, if it was a half-open
/// probe, its slot is free again at once, so a caller that gives up (a timeout, a client
/// that hung up) cannot use up the probe budget.
#[must_use = "a permit dropped without a result records a cancelled call"]
pub struct Permit<'a> {
    shared: &'a Shared,
    ticket: Option<Ticket>,
}

/// A [`Permit`] that owns a handle to its breaker, for futures that must be `'static`
/// (tower services); from [`CircuitBreaker::try_acquire_owned`](super::CircuitBreaker::try_acquire_owned).
#[must_use = "a permit dropped without a result records a cancelled call"]
pub struct OwnedPermit {
    shared: Arc<Shared>,
    ticket: Option<Ticket>,
}

/// How an outcome counts: a rejection by an inner primitive never reached the dependency.
#[inline]
pub(crate) fn judge(class: Class) -> Judged {
    match class {
        Class::Success => Judged::Success,
        Class::Benign => Judged::Benign,
        _ => Judged::Failure,
    }
}

/// Classifies `result`, except that an error which is (or boxes) a rejecting
/// [`Error`](crate::Error) counts as rejected: the dependency was never called.
#[inline]
fn judge_result<T, E: 'static, C: Classify<T, E> + ?Sized>(
    classifier: &C,
    result: &Result<T, E>,
) -> Judged {
    match result {
        Err(err) if find(err).is_some_and(Error::is_rejection) => Judged::Rejected,
        _ => judge(classifier.classify(result)),
    }
}

macro_rules! permit_methods {
    () => {
        /// Records the outcome's class: `Success` and failures (`Transient`, `Permanent`)
        /// count, `Benign` does not (it frees a half-open slot like a cancellation).
        #[inline]
        pub fn record(mut self, class: Class) {
            if let Some(ticket) = self.ticket.take() {
                self.shared.complete(ticket, judge(class));
            }
        }

        /// Records a success.
        #[inline]
        pub fn record_success(self) {
            self.record(Class::Success);
        }

        /// Records a failure of the dependency.
        pub fn record_failure(self) {
            self.record(Class::TRANSIENT);
        }

        /// Classifies `result` with `classifier` and records it. An error that is (or
        /// boxes) a rejecting [`Error`](crate::Error), such as a full bulkhead further in,
        /// is not counted: the dependency was never called.
        #[inline]
        pub fn record_result<T, E: 'static, C: Classify<T, E> + ?Sized>(
            mut self,
            classifier: &C,
            result: &Result<T, E>,
        ) {
            if let Some(ticket) = self.ticket.take() {
                self.shared
                    .complete(ticket, judge_result(classifier, result));
            }
        }

        /// Gives the permit back without an outcome (same as dropping it).
        pub fn cancel(self) {}

        /// Records how the call counted.
        #[inline]
        pub(crate) fn complete(mut self, judged: Judged) {
            if let Some(ticket) = self.ticket.take() {
                self.shared.complete(ticket, judged);
            }
        }
    };
}

impl<'a> Permit<'a> {
    #[inline]
    pub(crate) fn new(shared: &'a Shared, ticket: Ticket) -> Self {
        Self {
            shared,
            ticket: Some(ticket),
        }
    }

    permit_methods!();
}

impl OwnedPermit {
    #[inline]
    pub(crate) fn new(shared: Arc<Shared>, ticket: Ticket) -> Self {
        Self {
            shared,
            ticket: Some(ticket),
        }
    }

    permit_methods!();
}

impl Drop for Permit<'_> {
    #[inline]
    fn drop(&mut self) {
        // Inlined so that the drop after a `record` (no ticket left) costs nothing.
        if let Some(ticket) = self.ticket.take() {
            self.shared.cancel(ticket);
        }
    }
}

impl Drop for OwnedPermit {
    #[inline]
    fn drop(&mut self) {
        // Inlined so that the drop after a `record` (no ticket left) costs nothing.
        if let Some(ticket) = self.ticket.take() {
            self.shared.cancel(ticket);
        }
    }
}

impl fmt::Debug for Permit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Permit")
            .field("breaker", self.shared.telemetry.name())
            .field("ticket", &self.ticket)
            .finish()
    }
}

impl fmt::Debug for OwnedPermit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnedPermit")
            .field("breaker", self.shared.telemetry.name())
            .field("ticket", &self.ticket)
            .finish()
    }
}
