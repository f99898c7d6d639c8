use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use pin_project_lite::pin_project;
use resilience_core::outcome::Wrap;
use resilience_core::throttle::{Guarded, Rejection};
use resilience_core::{BoxError, Error};

pin_project! {
    /// Response future of [`AdaptiveThrottleService`](super::AdaptiveThrottleService): the
    /// core throttle's [`Guarded`] call around the inner service's future, its outcome as
    /// `Result<_, Error>`.
    #[derive(Debug)]
    #[must_use = "futures do nothing unless polled"]
    pub struct ResponseFuture<F, R> {
        #[pin]
        guarded: Guarded<Wrap<F>, R>,
    }
}

impl<F, R> ResponseFuture<F, R> {
    #[inline(always)]
    pub(crate) fn new(guarded: Guarded<Wrap<F>, R>) -> Self {
        Self { guarded }
    }
}

impl<F, R, T, E> Future for ResponseFuture<F, R>
where
    F: Future<Output = Result<T, E>>,
    E: Into<BoxError>,
    R: Rejection<T, Error>,
{
    type Output = Result<T, Error>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let outcome = ready!(self.project().guarded.poll(cx));
        Poll::Ready(outcome.and_then(|result| result))
    }
}
