//! [`ResponseFuture`]: one call through [`RetryService`](super::RetryService) or
//! [`HttpRetryService`](super::HttpRetryService), the core [`Retrying`] loop over
//! [`Replays`] of the request.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use pin_project_lite::pin_project;
use resilience_core::retry::{RetryPolicy, Retrying};
use resilience_core::{BoxError, Classify, Deadline, Error};
use tower_service::Service;

use crate::replay::{Replay, Replays};

pin_project! {
    /// Response future of [`RetryService`](super::RetryService) and, once the body is
    /// read, of [`HttpRetryService`](super::HttpRetryService).
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
        retrying: Retrying<RetryPolicy, Replays<S, Req, T, C>>,
        // The deadline ambient where the call started, ambient again (with any in force
        // where it is polled) while the call runs: a call made under a deadline and
        // polled elsewhere (a spawned task) hands it to every attempt, not only to the
        // first (made in `call`).
        deadline: Option<Deadline>,
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
    /// further ones replay `template`, if there is one.
    #[inline(always)]
    pub(crate) fn new(
        policy: RetryPolicy,
        service: S,
        request: Req,
        template: Option<T>,
        classifier: C,
    ) -> Self {
        let replays = Replays::new(service, template, classifier);
        // Read before the first attempt is made, so that nothing runs between making it
        // and writing it where it stays.
        let deadline = Deadline::current();
        Self {
            retrying: Retrying::new(policy, replays, |replays| replays.call(request)),
            deadline,
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
        let this = self.project();
        let retrying = this.retrying;
        // The earlier of it and any deadline ambient here.
        let outcome = ready!(resilience_core::deadline::sync_scope_opt(
            *this.deadline,
            || retrying.poll(cx)
        ));
        Poll::Ready(outcome.and_then(|result| result))
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
            .field("retrying", &self.retrying)
            .finish()
    }
}
