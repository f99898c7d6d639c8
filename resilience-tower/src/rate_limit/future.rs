use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use pin_project_lite::pin_project;
use resilience_core::rate_limit::Guarded;
use resilience_core::{BoxError, Error};
use tower_service::Service;

use super::stamp::Stamp;
use crate::bulkhead::Deferred;

pin_project! {
    /// Response future of [`RateLimitService`](super::RateLimitService): the core rate
    /// limit's [`Guarded`] call around the inner service (called at once on the fast
    /// path, once the turn comes when the limiter makes it wait), its outcome as
    /// `Result<_, Error>`, the response stamped as the layer was told to.
    #[must_use = "futures do nothing unless polled"]
    pub struct ResponseFuture<S, Req, H>
    where
        S: Service<Req>,
        S::Error: Into<BoxError>,
    {
        #[pin]
        guarded: Guarded<Deferred<S, Req>>,
        stamp: H,
    }
}

impl<S, Req, H> ResponseFuture<S, Req, H>
where
    S: Service<Req>,
    S::Error: Into<BoxError>,
{
    #[inline(always)]
    pub(crate) fn new(guarded: Guarded<Deferred<S, Req>>, stamp: H) -> Self {
        Self { guarded, stamp }
    }
}

impl<S, Req, H> Future for ResponseFuture<S, Req, H>
where
    S: Service<Req>,
    S::Error: Into<BoxError>,
    H: Stamp<S::Response>,
{
    type Output = Result<S::Response, Error>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        let outcome = ready!(this.guarded.as_mut().poll(cx));
        let mut response = outcome.and_then(|result| result)?;
        if let Some(grant) = this.guarded.grant() {
            this.stamp.stamp(&grant, &mut response);
        }
        Poll::Ready(Ok(response))
    }
}

impl<S, Req, H> fmt::Debug for ResponseFuture<S, Req, H>
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
