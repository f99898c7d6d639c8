//! [`Guarded`]: one call through an adaptive throttle — refused locally, or sent and
//! counted as accepted or not. The one place where the throttle's work around an
//! operation is written; the tower layer and `#[resilient]` wrap this future.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use pin_project_lite::pin_project;

use super::AdaptiveThrottle;
use crate::error::find;
use crate::outcome::{HasOutcome, Outcome};
use crate::{Class, Error};

/// Decides whether the backend rejected a call, from its [`Outcome`].
///
/// Implemented by [`Rejections`] (the default) and by closures
/// `Fn(&Outcome<T, E>) -> bool`.
pub trait Rejection<T, E> {
    /// `true` when the backend did not accept the call.
    fn is_rejection(&self, outcome: &Outcome<T, E>) -> bool;
}

impl<T, E, F: Fn(&Outcome<T, E>) -> bool> Rejection<T, E> for F {
    fn is_rejection(&self, outcome: &Outcome<T, E>) -> bool {
        self(outcome)
    }
}

/// The default [`Rejection`] judge: a call was rejected when it ended with a resilience
/// [`Error`] (a primitive's, or the operation's own, boxed or not) that is a
/// [rejection](Error::is_rejection) with a transient class — "not now, try later":
/// `CircuitOpen`, `BulkheadFull`, `Throttled`, `StoreUnavailable`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Rejections;

impl<T, E: 'static> Rejection<T, E> for Rejections {
    #[inline]
    fn is_rejection(&self, outcome: &Outcome<T, E>) -> bool {
        let error = match outcome {
            Ok(Ok(_)) => return false,
            Ok(Err(err)) => find(err),
            Err(err) => Some(err),
        };
        error.is_some_and(|err| {
            err.is_rejection() && matches!(err.effective_class(), Class::Transient { .. })
        })
    }
}

pin_project! {
    /// A call through an [`AdaptiveThrottle`]: fails at once with `Throttled` if it was
    /// refused locally; otherwise runs the operation (a future producing an [`Outcome`],
    /// or a [`Judged`](crate::outcome::Judged) one: see [`HasOutcome`]) and counts it as
    /// accepted or not, as the judge `R` decides. A call dropped before it completes is
    /// not counted.
    ///
    /// Made by [`AdaptiveThrottle::guard`], or by [`admitted`](Self::admitted) and
    /// [`refused`](Self::refused) for code that asks the throttle itself.
    #[must_use = "futures do nothing unless polled"]
    pub struct Guarded<F, R> {
        #[pin]
        state: State<F>,
        judge: R,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F> {
        Admitted { #[pin] operation: F, throttle: Option<AdaptiveThrottle> },
        Refused { error: Option<Error> },
    }
}

impl<F, R> Guarded<F, R> {
    /// A call `throttle` let through, running `operation`.
    pub fn admitted(throttle: AdaptiveThrottle, judge: R, operation: F) -> Self {
        Self {
            state: State::Admitted {
                operation,
                throttle: Some(throttle),
            },
            judge,
        }
    }

    /// A call refused with `error`: its outcome is that error.
    pub fn refused(error: Error, judge: R) -> Self {
        Self {
            state: State::Refused { error: Some(error) },
            judge,
        }
    }
}

impl<F, R> Future for Guarded<F, R>
where
    F: Future<Output: HasOutcome>,
    R: Rejection<<F::Output as HasOutcome>::Value, <F::Output as HasOutcome>::Error>,
{
    type Output = F::Output;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        match this.state.project() {
            StateProj::Admitted {
                operation,
                throttle,
            } => {
                let output = ready!(operation.poll(cx));
                if let Some(throttle) = throttle.take() {
                    throttle.record(!this.judge.is_rejection(output.outcome()));
                }
                Poll::Ready(output)
            }
            StateProj::Refused { error } => {
                let error = error.take().expect("`Guarded` polled after completion");
                Poll::Ready(F::Output::from_error(error))
            }
        }
    }
}

impl<F, R> fmt::Debug for Guarded<F, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.state {
            State::Admitted { .. } => "admitted",
            State::Refused { .. } => "refused",
        };
        f.debug_struct("Guarded").field("state", &state).finish()
    }
}
