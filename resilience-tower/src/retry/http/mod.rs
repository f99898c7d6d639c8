//! [`HttpRetryService`]: retries for `http::Request`s, with a capped, replayable body and
//! the idempotency rule.

mod future;
mod layer;

use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::request::Parts;
use http::{Method, Request, Response};
use http_body::Body;
use resilience_core::retry::RetryPolicy;
use resilience_core::{BoxError, Classify, Error};
use tower_service::Service;

pub use self::future::ResponseFuture;
pub use self::layer::HttpRetryLayer;
use crate::body::PrefixedBody;
use crate::http::HttpStatus;
use crate::idempotency::IDEMPOTENCY_KEY;

/// The default body cap: 64 KiB.
pub const DEFAULT_MAX_BODY: usize = 64 * 1024;

/// A predicate that opts a request the default rule refuses into retries.
type RetryIf = Arc<dyn Fn(&Parts) -> bool + Send + Sync>;

/// What [`HttpRetryLayer`] configures and every service it builds shares.
#[derive(Clone)]
struct Settings<C> {
    policy: RetryPolicy,
    classifier: C,
    max_body: usize,
    also_retry_if: Option<RetryIf>,
}

impl<C> Settings<C> {
    /// Whether `parts` may be sent more than once: an idempotent method (RFC 9110
    /// §9.2.2), an `Idempotency-Key` header, or the opt-in predicate.
    fn retryable(&self, parts: &Parts) -> bool {
        matches!(
            parts.method,
            Method::GET
                | Method::HEAD
                | Method::OPTIONS
                | Method::TRACE
                | Method::PUT
                | Method::DELETE
        ) || parts.headers.contains_key(IDEMPOTENCY_KEY)
            || self
                .also_retry_if
                .as_ref()
                .is_some_and(|retry| retry(parts))
    }
}

impl<C: fmt::Debug> fmt::Debug for Settings<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("policy", &self.policy)
            .field("classifier", &self.classifier)
            .field("max_body", &self.max_body)
            .field(
                "also_retry_if",
                &self.also_retry_if.as_ref().map(|_| "Fn(&Parts)"),
            )
            .finish()
    }
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
        let (parts, body) = request.into_parts();
        let settings = &self.settings;
        let retryable = settings.retryable(&parts);
        let hinted = body.size_hint().lower();
        if !retryable || hinted > settings.max_body as u64 {
            if retryable {
                over_cap(&settings.policy, settings.max_body, hinted);
            }
            let request = Request::from_parts(parts, PrefixedBody::new(body));
            return ResponseFuture::once(settings, service, request);
        }
        ResponseFuture::buffering(settings, service, parts, body)
    }
}

/// Says that a request is sent once because its body is over the cap.
fn over_cap(policy: &RetryPolicy, max_body: usize, size: u64) {
    tracing::event!(
        target: "resilience",
        tracing::Level::INFO,
        retry.name = policy.name().as_str(),
        max_body,
        body_bytes_at_least = size,
        "retry: request body exceeds the replay cap; sent once, not retried",
    );
}
