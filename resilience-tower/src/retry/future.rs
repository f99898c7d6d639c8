//! [`ResponseFuture`]: one call through [`RetryService`](super::RetryService) or
//! [`HttpRetryService`](super::HttpRetryService), the core [`Retrying`] loop over
//! [`Replays`] of the request.

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use pin_project_lite::pin_project;
use resilience_core::outcome::{self, Judge, Wrap};
use resilience_core::retry::{Attempts, RetryPolicy, Retrying};
use resilience_core::{BoxError, Classify, Error};
use tower_service::Service;

/// What a retry future keeps to make the request of each further attempt.
///
/// Every `Clone` request is its own template; HTTP requests use a buffered copy
/// ([`HttpRetryService`](super::HttpRetryService)).
pub trait Replay<Req> {
    /// A fresh copy of the request.
    fn replay(&self) -> Req;
}

impl<Req: Clone> Replay<Req> for Req {
    fn replay(&self) -> Req {
        self.clone()
    }
}

/// The attempts of one call, as the core retry loop asks for them: each further attempt
/// waits for the (moved-in) service's readiness, then calls it with a replay of the
/// template, its outcome judged by the classifier. Without a template the request cannot
/// be sent again.
pub(crate) struct Replays<S, Req, T, C> {
    service: S,
    template: Option<T>,
    classifier: C,
    request: PhantomData<fn() -> Req>,
}

impl<S, Req, T, C> Replays<S, Req, T, C>
where
    S: Service<Req>,
    S::Error: Into<BoxError>,
    C: Classify<S::Response, Error> + Clone,
{
    #[inline(always)]
    pub(crate) fn new(service: S, template: Option<T>, classifier: C) -> Self {
        Self {
            service,
            template,
            classifier,
            request: PhantomData,
        }
    }

    /// An attempt with `request` (the service is ready).
    #[inline(always)]
    pub(crate) fn call(&mut self, request: Req) -> Judge<Wrap<S::Future>, C> {
        outcome::judge(
            self.classifier.clone(),
            outcome::wrap(self.service.call(request)),
        )
    }
}

impl<S, Req, T, C> Attempts for Replays<S, Req, T, C>
where
    S: Service<Req>,
    S::Error: Into<BoxError>,
    T: Replay<Req>,
    C: Classify<S::Response, Error> + Clone,
{
    type Attempt = Judge<Wrap<S::Future>, C>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.service.poll_ready(cx).map_err(Error::wrap)
    }

    fn replayable(&self) -> bool {
        self.template.is_some()
    }

    fn next_attempt(&mut self) -> Option<Self::Attempt> {
        let request = self.template.as_ref()?.replay();
        Some(self.call(request))
    }
}

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
        Self {
            retrying: Retrying::new(policy, replays, |replays| replays.call(request)),
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
        let outcome = ready!(self.project().retrying.poll(cx));
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
