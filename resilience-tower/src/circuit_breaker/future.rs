use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use pin_project_lite::pin_project;
use resilience_core::circuit_breaker::{Guarded, OwnedPermit};
use resilience_core::outcome::Wrap;
use resilience_core::{BoxError, Classify, Error};

pin_project! {
    /// Response future of [`CircuitBreakerService`](super::CircuitBreakerService): the
    /// core breaker's [`Guarded`] call around the inner service's future, its outcome
    /// as `Result<_, Error>`. A panic in the inner future counts as a failure; dropping
    /// this future before it completes counts as a timeout once the ambient deadline has
    /// passed, else as a cancellation, not counted (see [`Guarded`]).
    #[derive(Debug)]
    #[must_use = "futures do nothing unless polled"]
    pub struct ResponseFuture<F, C> {
        #[pin]
        guarded: Guarded<Wrap<F>, C, OwnedPermit>,
    }
}

impl<F, C> ResponseFuture<F, C> {
    #[inline(always)]
    pub(crate) fn new(guarded: Guarded<Wrap<F>, C, OwnedPermit>) -> Self {
        Self { guarded }
    }
}

impl<F, C, T, E> Future for ResponseFuture<F, C>
where
    F: Future<Output = Result<T, E>>,
    E: Into<BoxError>,
    C: Classify<T, Error>,
{
    type Output = Result<T, Error>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let judged = ready!(self.project().guarded.poll(cx));
        Poll::Ready(judged.outcome.and_then(|result| result))
    }
}
