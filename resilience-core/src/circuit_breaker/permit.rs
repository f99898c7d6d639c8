//! Permits: RAII guards for one admitted call.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use super::core::{Shared, Ticket};
use super::telemetry::Judged;
use crate::error::find;
use crate::{Class, Classify, Error};

/// Leave to run one call, from [`CircuitBreaker::try_acquire`](super::CircuitBreaker::try_acquire).
///
/// Report the outcome with [`record`](Permit::record) (or
/// [`record_result`](Permit::record_result)). A permit dropped without a result counts
/// by why it was dropped:
///
/// - **while a panic unwinds** (the call panicked): a *failure*. A hand-written future
///   that keeps the permit in a field is not dropped while a panic in its inner future
///   unwinds (the runtime drops it later, after catching the panic); run the call as a
///   [`Guarded`](super::Guarded) future, which records the failure as the panic unwinds.
/// - **after the ambient deadline passed** ([`Deadline::current`](crate::Deadline::current)
///   is expired where it is dropped: the call was cut off by `enforce`, `Deadline::run` or
///   a deadline layer): a *failure*, counted with outcome `timeout`. A dependency that
///   hangs opens the breaker this way.
/// - **otherwise** (the caller gave up: a client that hung up, a `select!` that took
///   another branch, a timeout that is not a deadline): *cancelled*. Nothing is recorded
///   against the dependency, since giving up says nothing about it, and a half-open
///   probe's slot is free again at once. Bound calls with a deadline (or a timeout
///   *inside* the breaker, whose error is recorded) for slow calls to count.
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

        /// Gives the permit back without an outcome: nothing is recorded, and a half-open
        /// probe's slot is free again. Unlike dropping the permit, this never counts a
        /// panic or an expired deadline.
        pub fn cancel(mut self) {
            if let Some(ticket) = self.ticket.take() {
                self.shared.cancel(ticket);
            }
        }

        /// Records how the call counted.
        #[inline]
        pub(crate) fn complete(mut self, judged: Judged) {
            if let Some(ticket) = self.ticket.take() {
                self.shared.complete(ticket, judged);
            }
        }

        /// How long this call may take: the breaker's probe timeout when it is a
        /// half-open probe and one is set.
        #[inline]
        pub(crate) fn probe_timeout(&self) -> Option<Duration> {
            self.ticket
                .and_then(|ticket| self.shared.probe_timeout(ticket))
        }

        /// The error of a probe that took longer than its timeout.
        #[cold]
        pub(crate) fn probe_timed_out(&self, limit: Duration) -> Error {
            self.shared.probe_timed_out(limit)
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
            self.shared.dropped(ticket);
        }
    }
}

impl Drop for OwnedPermit {
    #[inline]
    fn drop(&mut self) {
        // Inlined so that the drop after a `record` (no ticket left) costs nothing.
        if let Some(ticket) = self.ticket.take() {
            self.shared.dropped(ticket);
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
