//! Sending a request more than once: what the retry and hedge layers share.
//!
//! Both layers make further attempts of a call: a retry after a failure, a hedge while
//! the first attempt is still running. Both keep a template of the request to replay
//! ([`Replay`]: a clone, or for HTTP a buffered copy of the body), wait for the inner
//! service's readiness before each further attempt, and judge each attempt with their
//! classifier ([`Replays`], the core's [`Attempts`]). For HTTP, both follow one rule of
//! which requests may be repeated at all and one cap on the bodies they keep
//! ([`http`]).

pub(crate) mod http;

use std::marker::PhantomData;
use std::task::{Context, Poll};

use resilience_core::outcome::{self, Judge, Wrap};
use resilience_core::retry::Attempts;
use resilience_core::{BoxError, Classify, Error};
use tower_service::Service;

/// What a retry or hedge future keeps to make the request of each further attempt.
///
/// Every `Clone` request is its own template; HTTP requests use a buffered copy
/// ([`HttpRetryService`](crate::retry::HttpRetryService),
/// [`HttpHedgeService`](crate::hedge::HttpHedgeService)).
pub trait Replay<Req> {
    /// A fresh copy of the request.
    fn replay(&self) -> Req;
}

impl<Req: Clone> Replay<Req> for Req {
    fn replay(&self) -> Req {
        self.clone()
    }
}

/// The attempts of one call, as the core retry and hedge futures ask for them: each
/// further attempt waits for the (moved-in) service's readiness, then calls it with a
/// replay of the template, its outcome judged by the classifier. Without a template the
/// request cannot be sent again.
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
