use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use pin_project_lite::pin_project;
use resilience_core::health::Guarded;
use resilience_core::outcome::Wrap;
use resilience_core::{BoxError, Error};

pin_project! {
    /// Response future of [`DrainService`](super::DrainService): the core
    /// [`Guarded`] request around the inner call (counted in flight until it completes or
    /// this future is dropped), its outcome as `Result<_, Error>`.
    #[must_use = "futures do nothing unless polled"]
    pub struct ResponseFuture<F> {
        #[pin]
        guarded: Guarded<Wrap<F>>,
    }
}

impl<F> ResponseFuture<F> {
    pub(crate) fn new(guarded: Guarded<Wrap<F>>) -> Self {
        Self { guarded }
    }
}

impl<F, T, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<T, E>>,
    E: Into<BoxError>,
{
    type Output = Result<T, Error>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let outcome = ready!(self.project().guarded.poll(cx));
        Poll::Ready(outcome.and_then(|result| result))
    }
}

impl<F> fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture")
            .field("guarded", &self.guarded)
            .finish()
    }
}
