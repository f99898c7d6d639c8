//! [`HttpRetryService`]: retries for `http::Request`s, with a capped, replayable body and
//! the idempotency rule.

mod future;
mod layer;

use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, Response};
use http_body::Body;
use resilience_core::retry::RetryPolicy;
use resilience_core::{BoxError, Classify, Error};
use tower_service::Service;

pub use self::future::ResponseFuture;
pub use self::layer::HttpRetryLayer;
use crate::body::PrefixedBody;
use crate::http::HttpStatus;
pub use crate::replay::http::DEFAULT_MAX_BODY;
use crate::replay::http::Repeatable;

/// What [`HttpRetryLayer`] configures and every service it builds shares.
#[derive(Clone, Debug)]
struct Settings<C> {
    policy: RetryPolicy,
    classifier: C,
    repeatable: Repeatable,
}

/// Retries HTTP requests through a [`RetryPolicy`]; built by [`HttpRetryLayer`].
///
/// The inner service receives `Request<PrefixedBody<B>>`. Before the first attempt of a
/// retryable request, the body is read into memory, up to
/// [`max_body`](HttpRetryLayer::max_body) bytes, so that every attempt sends the same
/// bytes (and trailers). A request is sent **once, not retried** when
///
/// - its method is not idempotent (anything but `GET`, `HEAD`, `OPTIONS`, `TRACE`,
///   `PUT`, `DELETE`: the idempotent methods of RFC 9110 §9.2.2), it has no
///   `Idempotency-Key` header, and [`also_retry_if`](HttpRetryLayer::also_retry_if) does
///   not opt it in: its body is streamed through untouched; or
/// - its body is larger than `max_body` (by its size hint, or found while reading it):
///   what was read is sent first, then the rest is streamed, and an INFO event
///   (target `resilience`) says so.
///
/// Bodies must be `Unpin` (hyper's `Incoming`, axum's `Body` and `Full` are).
///
/// Responses are classified with [`HttpStatus`] by default: a `503` with
/// `Retry-After: 2` is retried, not before 2 s; a `404` is returned as it is.
///
/// # Clone
///
/// Clones share the policy (and the opt-in predicate) and clone the inner service and
/// the classifier.
#[derive(Clone, Debug)]
pub struct HttpRetryService<S, C = HttpStatus> {
    inner: S,
    settings: Settings<C>,
}

impl<S, C> HttpRetryService<S, C> {
    /// Wraps `inner`, with the default body cap and the default rule of what is retried.
    pub fn new(inner: S, policy: RetryPolicy, classifier: C) -> Self {
        HttpRetryLayer::new(policy)
            .classifier(classifier)
            .service(inner)
    }

    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// Unwraps the service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, C, B, ResBody> Service<Request<B>> for HttpRetryService<S, C>
where
    S: Service<Request<PrefixedBody<B>>, Response = Response<ResBody>> + Clone,
    S::Error: Into<BoxError>,
    C: Classify<Response<ResBody>, Error> + Clone,
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    type Response = Response<ResBody>;
    type Error = Error;
    type Future = ResponseFuture<S, B, C>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.inner.poll_ready(cx).map_err(Error::wrap)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let clone = self.inner.clone();
        let service = std::mem::replace(&mut self.inner, clone);
        ResponseFuture::new(&self.settings, service, request)
    }
}
