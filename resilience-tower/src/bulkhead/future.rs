use std::fmt;
use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use pin_project_lite::pin_project;
use resilience_core::bulkhead::Guarded;
use resilience_core::outcome::{self, Outcome, Wrap};
use resilience_core::{BoxError, Error};
use tower_service::Service;

pin_project! {
    /// Response future of [`BulkheadService`](super::BulkheadService): the core
    /// bulkhead's [`Guarded`] call around the inner service, its outcome as
    /// `Result<_, Error>`.
    #[must_use = "futures do nothing unless polled"]
    pub struct ResponseFuture<S, Req>
    where
        S: Service<Req>,
        S::Error: Into<BoxError>,
    {
        #[pin]
        guarded: Guarded<Deferred<S, Req>>,
    }
}

impl<S, Req> ResponseFuture<S, Req>
where
    S: Service<Req>,
    S::Error: Into<BoxError>,
{
    #[inline(always)]
    pub(crate) fn new(guarded: Guarded<Deferred<S, Req>>) -> Self {
        Self { guarded }
    }
}

impl<S, Req> Future for ResponseFuture<S, Req>
where
    S: Service<Req>,
    S::Error: Into<BoxError>,
{
    type Output = Result<S::Response, Error>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let outcome = ready!(self.project().guarded.poll(cx));
        Poll::Ready(outcome.and_then(|result| result))
    }
}

impl<S, Req> fmt::Debug for ResponseFuture<S, Req>
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

/// A request kept with the (ready) service it is for, until a permit is handed over.
pub(crate) struct Deferred<S, Req> {
    pub(crate) service: S,
    pub(crate) request: Req,
}

impl<S, Req> IntoFuture for Deferred<S, Req>
where
    S: Service<Req>,
    S::Error: Into<BoxError>,
{
    type Output = Outcome<S::Response, Error>;
    type IntoFuture = Wrap<S::Future>;

    fn into_future(mut self) -> Wrap<S::Future> {
        // `service` was made ready before `call` took it out of the stack.
        outcome::wrap(self.service.call(self.request))
    }
}
