//! Fallback as tower middleware: [`FallbackLayer`] answers the failures its
//! [`Fallback`] chooses, and marks the answer (an HTTP header).
//!
//! ```
//! use std::time::Duration;
//!
//! use http::{Request, Response, StatusCode};
//! use resilience_core::Error;
//! use resilience_tower::fallback::{Fallback, FallbackLayer, FALLBACK_HEADER};
//! use resilience_tower::http::HttpStatus;
//! use resilience_tower::key::KeyFn;
//! use tower::{ServiceBuilder, ServiceExt, service_fn};
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
//! // A recommendations service that is down: answer with the last good list for the
//! // same path (at most five minutes old), or an empty one.
//! let fallback = Fallback::<Response<String>, Error, String>::builder()
//!     .name("recommendations")
//!     .stale(Duration::from_secs(300))
//!     .with(|_| Response::new("[]".to_owned()))
//!     .build()
//!     .unwrap();
//! let svc = ServiceBuilder::new()
//!     .layer(
//!         FallbackLayer::new(fallback)
//!             .classifier(HttpStatus::new()) // a 5xx answer is a failure too
//!             .key(KeyFn(|request: &Request<()>| request.uri().path().to_owned()))
//!             .header(FALLBACK_HEADER),
//!     )
//!     .service(service_fn(|_: Request<()>| async {
//!         let mut down = Response::new(String::new());
//!         *down.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
//!         Ok::<_, Error>(down)
//!     }));
//! let response = svc.oneshot(Request::new(())).await.unwrap();
//! assert_eq!(response.status(), StatusCode::OK);
//! assert_eq!(response.body(), "[]");
//! assert_eq!(response.headers()[FALLBACK_HEADER], "computed");
//! # }
//! ```
//!
//! Which failures are answered, and with what, is the [`Fallback`]'s: see
//! [`resilience_core::fallback`]. The layer adds what a service needs:
//!
//! - **A key per request**, for stale answers: [`key`](FallbackLayer::key) takes a
//!   [`RequestKey`] ([`KeyFn`](crate::key::KeyFn) for a closure). Without one, a stale
//!   fallback keeps nothing and answers with its value or closure only (and says so in a
//!   warning when the layer is applied), so that no caller is ever answered with another
//!   caller's response; [`shared_key`](FallbackLayer::shared_key) opts in to one answer
//!   for every request, for responses that are the same for everyone.
//! - **A classifier** ([`classifier`](FallbackLayer::classifier)): with
//!   [`HttpStatus`](crate::http::HttpStatus) a `503` is a failure to answer, not a
//!   success to keep.
//! - **A mark on the answer**: [`header`](FallbackLayer::header) sets a response header
//!   on every answer the fallback made, its value `value`, `computed` or `stale`
//!   ([`Used::as_str`]); any other [`Mark`] does what you need for other response types.
//!   An answer the fallback did not make is never marked.
//!
//! The layer's error type is [`resilience_core::Error`] (the inner service's errors
//! arrive converted, so the fallback sees and can match them).

mod future;
mod layer;

use std::task::{Context, Poll};

use http::{HeaderName, HeaderValue, Response};
pub use resilience_core::fallback::{Failure, Fallback, FallbackBuilder, Used};
use resilience_core::{BoxError, Classify, Error};
use tower_service::Service;

pub use self::future::ResponseFuture;
pub use self::layer::FallbackLayer;
use crate::key::{RequestKey, StaleKey};

/// The header [`FallbackLayer::header`] is usually given: `resilience-fallback`.
pub const FALLBACK_HEADER: HeaderName = HeaderName::from_static("resilience-fallback");

/// Marks a response the fallback made, so that its consumers can tell it from a fresh
/// one.
pub trait Mark<T> {
    /// Marks `response`, made by `used`.
    fn mark(&self, response: &mut T, used: Used);
}

/// No mark (the default).
#[derive(Clone, Copy, Debug, Default)]
pub struct NoMark;

impl<T> Mark<T> for NoMark {
    #[inline]
    fn mark(&self, _: &mut T, _: Used) {}
}

/// Marks an `http::Response` with a header whose value says what answered
/// ([`Used::as_str`]).
#[derive(Clone, Debug)]
pub struct Header(pub HeaderName);

impl<B> Mark<Response<B>> for Header {
    fn mark(&self, response: &mut Response<B>, used: Used) {
        response
            .headers_mut()
            .insert(self.0.clone(), HeaderValue::from_static(used.as_str()));
    }
}

/// Answers a service's failures through a [`Fallback`]; built by [`FallbackLayer`].
///
/// # Clone
///
/// Clones share the fallback (its stale store and counters) and clone the inner
/// service, the classifier, the key and the mark.
#[derive(Clone, Debug)]
pub struct FallbackService<S, T, K, C, F, M> {
    inner: S,
    layer: FallbackLayer<T, K, C, F, M>,
}

impl<S, T, K, C, F, M> FallbackService<S, T, K, C, F, M> {
    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// Unwraps the service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, Req, K, C, F, M> Service<Req> for FallbackService<S, S::Response, K, C, F, M>
where
    S: Service<Req>,
    S::Error: Into<BoxError>,
    K: std::hash::Hash + Eq,
    C: Classify<S::Response, Error> + Clone,
    F: RequestKey<Req>,
    F::Key: StaleKey<K>,
    M: Mark<S::Response> + Clone,
{
    type Response = S::Response;
    type Error = Error;
    type Future = ResponseFuture<S::Future, S::Response, K, C, M>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.inner.poll_ready(cx).map_err(Error::wrap)
    }

    fn call(&mut self, request: Req) -> Self::Future {
        let layer = &self.layer;
        // No key unless the layer was given one, and then only a key that tells the
        // caller apart.
        let key = match layer.keyed {
            true => layer.key.key(&request).stale_key(),
            false => None,
        };
        ResponseFuture::new(
            layer.fallback.clone(),
            key,
            layer.classifier.clone(),
            self.inner.call(request),
            layer.mark.clone(),
        )
    }
}
