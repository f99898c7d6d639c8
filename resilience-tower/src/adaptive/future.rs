use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use pin_project_lite::pin_project;
use resilience_core::adaptive::Guarded;
use resilience_core::{BoxError, Classify, Error};
use tower_service::Service;

use crate::bulkhead::Deferred;

pin_project! {
    /// Response future of [`AdaptiveBulkheadService`](super::AdaptiveBulkheadService): the
    /// core adaptive bulkhead's [`Guarded`] call around the inner service, its outcome as
    /// `Result<_, Error>`.
    #[must_use = "futures do nothing unless polled"]
    pub struct ResponseFuture<S, Req, C>
    where
        S: Service<Req>,
        S::Error: Into<BoxError>,
    {
        #[pin]
        guarded: Guarded<Deferred<S, Req>, C>,
    }
}

impl<S, Req, C> ResponseFuture<S, Req, C>
where
    S: Service<Req>,
    S::Error: Into<BoxError>,
{
    #[inline(always)]
    pub(crate) fn new(guarded: Guarded<Deferred<S, Req>, C>) -> Self {
        Self { guarded }
    }
}

impl<S, Req, C> Future for ResponseFuture<S, Req, C>
where
    S: Service<Req>,
    S::Error: Into<BoxError>,
    C: Classify<S::Response, Error>,
{
    type Output = Result<S::Response, Error>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let outcome = ready!(self.project().guarded.poll(cx));
        Poll::Ready(outcome.and_then(|result| result))
    }
}

impl<S, Req, C> fmt::Debug for ResponseFuture<S, Req, C>
where
    S: Service<Req>,
    S::Error: Into<BoxError>,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture")
            .field("guarded", &self.guarded)
            .finish()
    }
}
