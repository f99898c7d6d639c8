//! [`ResponseFuture`]: one call through [`HedgeService`](super::HedgeService) or
//! [`HttpHedgeService`](super::HttpHedgeService), the core [`Hedging`] future over
//! [`Replays`] of the request.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use pin_project_lite::pin_project;
use resilience_core::hedge::{Hedge, Hedging};
use resilience_core::{BoxError, Classify, Error};
use tower_service::Service;

use crate::replay::{Replay, Replays};

pin_project! {
    /// Response future of [`HedgeService`](super::HedgeService) and, once the body is
    /// read, of [`HttpHedgeService`](super::HttpHedgeService).
    #[must_use = "futures do nothing unless polled"]
    pub struct ResponseFuture<S, Req, C, T = Req>
    where
        S: Service<Req>,
        S::Error: Into<BoxError>,
        T: Replay<Req>,
        C: Classify<S::Response, Error>,
        C: Clone,
    {
        #[pin]
        hedging: Hedging<Hedge, Replays<S, Req, T, C>>,
    }
}

impl<S, Req, C, T> ResponseFuture<S, Req, C, T>
where
    S: Service<Req>,
    S::Error: Into<BoxError>,
    T: Replay<Req>,
    C: Classify<S::Response, Error> + Clone,
{
    /// Starts the call: the first attempt sends `request` to `service` (which is ready);
    /// hedges replay `template`, if there is one.
    #[inline(always)]
    pub(crate) fn new(
        hedge: Hedge,
        service: S,
        request: Req,
        template: Option<T>,
        classifier: C,
    ) -> Self {
        let replays = Replays::new(service, template, classifier);
        Self {
            hedging: Hedging::new(hedge, replays, |replays| replays.call(request)),
        }
    }
}

impl<S, Req, C, T> Future for ResponseFuture<S, Req, C, T>
where
    S: Service<Req>,
    S::Error: Into<BoxError>,
    T: Replay<Req>,
    C: Classify<S::Response, Error> + Clone,
{
    type Output = Result<S::Response, Error>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let judged = ready!(self.project().hedging.poll(cx));
        Poll::Ready(judged.outcome.and_then(|result| result))
    }
}

impl<S, Req, C, T> fmt::Debug for ResponseFuture<S, Req, C, T>
where
    S: Service<Req>,
    S::Error: Into<BoxError>,
    T: Replay<Req>,
    C: Classify<S::Response, Error> + Clone,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture")
            .field("hedging", &self.hedging)
            .finish()
    }
}
