use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, Response};
use http_body::Body;
use pin_project_lite::pin_project;
use resilience_core::retry::RetryPolicy;
use resilience_core::{BoxError, Classify, Error, Name, Primitive};
use tower_service::Service;

use super::Settings;
use crate::body::PrefixedBody;
use crate::replay::http::{Buffered, HttpReplay, Start};
use crate::retry::future::ResponseFuture as Retried;

/// Starts the retry loop once the body is read.
pub(crate) struct Retry<C> {
    policy: RetryPolicy,
    classifier: C,
}

impl<S, B, C> Start<S, B> for Retry<C>
where
    S: Service<Request<PrefixedBody<B>>>,
    S::Error: Into<BoxError>,
    C: Classify<S::Response, Error> + Clone,
{
    type Future = Retried<S, Request<PrefixedBody<B>>, C, HttpReplay>;

    fn origin(&self) -> (Primitive, &Name) {
        (Primitive::Retry, self.policy.name())
    }

    fn start(
        self,
        service: S,
        request: Request<PrefixedBody<B>>,
        template: Option<HttpReplay>,
    ) -> Self::Future {
        Retried::new(self.policy, service, request, template, self.classifier)
    }
}

pin_project! {
    /// Response future of [`HttpRetryService`](super::HttpRetryService): reads the body
    /// into memory, then runs the attempts (the retry layer's own
    /// [`ResponseFuture`](crate::retry::ResponseFuture)).
    #[must_use = "futures do nothing unless polled"]
    pub struct ResponseFuture<S, B, C>
    where
        S: Service<Request<PrefixedBody<B>>>,
        S::Error: Into<BoxError>,
        C: Classify<S::Response, Error>,
        C: Clone,
    {
        #[pin]
        buffered: Buffered<S, B, Retry<C>>,
    }
}

impl<S, B, C> ResponseFuture<S, B, C>
where
    S: Service<Request<PrefixedBody<B>>>,
    S::Error: Into<BoxError>,
    C: Classify<S::Response, Error> + Clone,
    B: Body,
{
    pub(super) fn new(settings: &Settings<C>, service: S, request: Request<B>) -> Self {
        let retry = Retry {
            policy: settings.policy.clone(),
            classifier: settings.classifier.clone(),
        };
        Self {
            buffered: Buffered::new(&settings.repeatable, retry, service, request),
        }
    }
}

impl<S, B, C, ResBody> Future for ResponseFuture<S, B, C>
where
    S: Service<Request<PrefixedBody<B>>, Response = Response<ResBody>>,
    S::Error: Into<BoxError>,
    C: Classify<Response<ResBody>, Error> + Clone,
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    type Output = Result<Response<ResBody>, Error>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.project().buffered.poll(cx)
    }
}

impl<S, B, C> fmt::Debug for ResponseFuture<S, B, C>
where
    S: Service<Request<PrefixedBody<B>>>,
    S::Error: Into<BoxError>,
    C: Classify<S::Response, Error> + Clone,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture")
            .field("buffered", &self.buffered)
            .finish()
    }
}
