//! [`Guarded`]: one call through a breaker — admitted or refused, then judged and
//! recorded. The one place where the breaker's work around an operation is written; the
//! tower layer and `#[resilient]` wrap this future.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use pin_project_lite::pin_project;
use tokio::time::{Sleep, sleep_until};

use super::permit::{OwnedPermit, Permit};
use super::telemetry::Judged as Counted;
use crate::deadline::{self, Deadline};
use crate::outcome::{Judged, Outcome};
use crate::{Class, Classify, Error};

pin_project! {
    /// A call through a [`CircuitBreaker`](super::CircuitBreaker): fails at once with the
    /// breaker's `CircuitOpen` rejection if it was refused; otherwise runs the operation
    /// (a future producing an [`Outcome`]), classifies its outcome once and records the
    /// class on the permit. The output is the [`Judged`] outcome, so a retry loop around
    /// it does not classify again.
    ///
    /// What the breaker counts: a `Success`, `Transient` or `Permanent` class; not a
    /// `Benign` one, and not a rejection from further in (a full bulkhead, an expired
    /// deadline: the dependency was never called). An operation that panics counts as a
    /// failure, recorded as the panic unwinds out of `poll`. A future dropped before it
    /// completes counts as its [`Permit`] says: a timeout if the ambient deadline has
    /// passed (a deadline cut the call off), else a cancellation, not counted (a half-open
    /// probe slot is free again at once).
    ///
    /// A half-open probe of a breaker with a
    /// [`probe_timeout`](super::CircuitBreakerBuilder::probe_timeout) is bounded by it: past
    /// it the operation is dropped and the outcome is a transient `Timeout` from the
    /// breaker, counted as a failed probe. The probe's deadline is also the
    /// ambient [deadline](crate::deadline) while it runs, so a dependency it is propagated
    /// to stops the abandoned work too. The timer is armed (and boxed) only for such a
    /// probe, the first time it has to wait; other calls carry no timer.
    ///
    /// Made by [`CircuitBreaker::guard`](super::CircuitBreaker::guard) (borrowed permit), or
    /// by [`Guarded::admitted`] and [`Guarded::refused`] for code that asks the breaker
    /// itself (the tower layer, with an owned permit, so as to call its inner service
    /// only when admitted).
    #[must_use = "futures do nothing unless polled"]
    pub struct Guarded<F, C, P = OwnedPermit> {
        #[pin]
        state: State<F>,
        permit: Option<P>,
        probe: Probe,
        classifier: C,
    }
}

/// The time limit of a half-open probe.
enum Probe {
    /// Not a bounded probe.
    Off,
    /// A probe bounded by `limit`, that is by `deadline`; its timer is armed (and boxed)
    /// the first time the operation has to wait.
    Bounded {
        deadline: Deadline,
        limit: Duration,
        timer: Option<Pin<Box<Sleep>>>,
    },
}

impl Probe {
    #[inline]
    fn of(permit: &impl Settle) -> Self {
        match permit.probe_timeout() {
            None => Probe::Off,
            Some(limit) => Probe::Bounded {
                deadline: Deadline::after(limit),
                limit,
                timer: None,
            },
        }
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F> {
        Admitted { #[pin] operation: F },
        Refused { error: Option<Error> },
    }
}

impl<F, C, P: Settle> Guarded<F, C, P> {
    /// A call admitted with `permit`, running `operation`.
    #[inline(always)]
    pub fn admitted(permit: P, classifier: C, operation: F) -> Self {
        Self {
            probe: Probe::of(&permit),
            state: State::Admitted { operation },
            permit: Some(permit),
            classifier,
        }
    }

    /// A call admitted with `permit`, running the operation `make` returns. A bounded
    /// half-open probe's deadline is the ambient one (see [`deadline`](crate::deadline))
    /// while `make` runs, so work started there — a request whose deadline is propagated
    /// to the dependency — stops with the probe. For code that starts the operation
    /// eagerly, such as a tower service calling its inner service.
    #[inline(always)]
    pub fn admitted_with(permit: P, classifier: C, make: impl FnOnce() -> F) -> Self {
        Self::admitted_passing(permit, classifier, (), |()| make())
    }

    /// [`admitted_with`](Self::admitted_with), handing `arg` to `make`: for a call that
    /// passes a large value on (a request to a service's `call`), which a capture would
    /// copy into the closure first. The tower breaker layer calls its inner service this
    /// way.
    #[inline(always)]
    pub fn admitted_passing<A>(
        permit: P,
        classifier: C,
        arg: A,
        make: impl FnOnce(A) -> F,
    ) -> Self {
        let probe = Probe::of(&permit);
        let scope = match &probe {
            Probe::Off => None,
            Probe::Bounded { deadline, .. } => Some(*deadline),
        };
        // One call of `make`, so that it is inlined once.
        let operation = deadline::sync_scope_with(scope, arg, make);
        Self {
            state: State::Admitted { operation },
            permit: Some(permit),
            probe,
            classifier,
        }
    }

    /// A call refused with `error`: its outcome is that error.
    #[inline]
    pub fn refused(error: Error, classifier: C) -> Self {
        Self {
            state: State::Refused { error: Some(error) },
            permit: None,
            probe: Probe::Off,
            classifier,
        }
    }
}

impl<F, C, P, T, E> Future for Guarded<F, C, P>
where
    F: Future<Output = Outcome<T, E>>,
    C: Classify<T, E>,
    P: Settle,
    E: 'static,
{
    type Output = Judged<T, E>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let operation = match this.state.project() {
            StateProj::Admitted { operation } => operation,
            StateProj::Refused { error } => {
                let error = error.take().expect("`Guarded` polled after completion");
                return Poll::Ready(Judged::error(error));
            }
        };
        // A panic in `operation` unwinds through here without dropping this future (the
        // runtime drops it later, once it caught the panic, when the permit could not tell
        // a panic from a cancellation): the guard records the failure as it unwinds, and
        // is disarmed (never dropped) when the poll returns.
        let unwinding = FailOnUnwind(&mut *this.permit);
        let polled = match this.probe {
            Probe::Off => operation.poll(cx),
            // The probe's deadline is ambient while the operation runs.
            Probe::Bounded { deadline, .. } => {
                deadline::sync_scope(*deadline, || operation.poll(cx))
            }
        };
        let _ = std::mem::ManuallyDrop::new(unwinding);
        let outcome = match (polled, &mut *this.probe) {
            (Poll::Ready(outcome), _) => outcome,
            (Poll::Pending, Probe::Off) => return Poll::Pending,
            (
                Poll::Pending,
                Probe::Bounded {
                    deadline,
                    limit,
                    timer,
                },
            ) => {
                let at = deadline.instant();
                let sleep = timer.get_or_insert_with(|| Box::pin(sleep_until(at)));
                ready!(sleep.as_mut().poll(cx));
                let limit = *limit;
                *this.probe = Probe::Off;
                match this.permit.as_ref() {
                    // The operation is dropped with the rest of this future.
                    Some(permit) => Err(permit.probe_timed_out(limit)),
                    None => panic!("`Guarded` polled after completion"),
                }
            }
        };
        let judged = Judged::classify(this.classifier, outcome);
        if let Some(permit) = this.permit.take() {
            permit.settle(judged.class, judged.is_rejection());
        }
        Poll::Ready(judged)
    }
}

/// Holds a [`Guarded`]'s permit while its operation is polled; dropped only if that poll
/// panics (it is forgotten when the poll returns), when it records a failure.
struct FailOnUnwind<'a, P: Settle>(&'a mut Option<P>);

impl<P: Settle> Drop for FailOnUnwind<'_, P> {
    #[cold]
    fn drop(&mut self) {
        if let Some(permit) = self.0.take() {
            permit.settle(Class::TRANSIENT, false);
        }
    }
}

impl<F, C, P: fmt::Debug> fmt::Debug for Guarded<F, C, P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Guarded")
            .field("permit", &self.permit)
            .finish_non_exhaustive()
    }
}

mod sealed {
    pub trait Sealed {}
}

/// A permit a [`Guarded`] call reports its outcome on: [`Permit`] or [`OwnedPermit`].
/// Sealed: implemented by those two only.
pub trait Settle: sealed::Sealed {
    /// Records the outcome's `class`, or, when `rejected`, that the operation was never
    /// called (counted as a rejection, not against the dependency).
    fn settle(self, class: Class, rejected: bool);

    /// How long the call may take: the breaker's probe timeout, for a half-open probe.
    fn probe_timeout(&self) -> Option<Duration>;

    /// The error of a probe that took longer than `limit`.
    fn probe_timed_out(&self, limit: Duration) -> crate::Error;
}

impl sealed::Sealed for Permit<'_> {}
impl sealed::Sealed for OwnedPermit {}

impl Settle for Permit<'_> {
    #[inline]
    fn settle(self, class: Class, rejected: bool) {
        self.complete(counted(class, rejected));
    }

    #[inline]
    fn probe_timeout(&self) -> Option<Duration> {
        Permit::probe_timeout(self)
    }

    fn probe_timed_out(&self, limit: Duration) -> crate::Error {
        Permit::probe_timed_out(self, limit)
    }
}

impl Settle for OwnedPermit {
    #[inline]
    fn settle(self, class: Class, rejected: bool) {
        self.complete(counted(class, rejected));
    }

    #[inline]
    fn probe_timeout(&self) -> Option<Duration> {
        OwnedPermit::probe_timeout(self)
    }

    fn probe_timed_out(&self, limit: Duration) -> crate::Error {
        OwnedPermit::probe_timed_out(self, limit)
    }
}

#[inline]
fn counted(class: Class, rejected: bool) -> Counted {
    if rejected {
        Counted::Rejected
    } else {
        super::permit::judge(class)
    }
}
