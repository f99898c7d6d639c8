//! [`IdempotencyLayer`]: `Idempotency-Key` for HTTP services. A client that re-sends a
//! POST (because the connection dropped, a proxy timed out, a user double-clicked) gets
//! the first response back instead of running the handler twice.
//!
//! ```
//! use std::sync::Arc;
//! use std::sync::atomic::{AtomicUsize, Ordering};
//!
//! use axum::{Router, routing::post};
//! use http::{Request, StatusCode};
//! use resilience_core::idempotency::MemoryStore;
//! use resilience_tower::http::HttpErrorLayer;
//! use resilience_tower::idempotency::IdempotencyLayer;
//! use tower::{ServiceBuilder, ServiceExt};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let charges = Arc::new(AtomicUsize::new(0));
//! let counter = Arc::clone(&charges);
//! let app = Router::new()
//!     .route("/charge", post(move || async move {
//!         let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
//!         (StatusCode::CREATED, format!("charge #{n}"))
//!     }))
//!     .layer(
//!         ServiceBuilder::new()
//!             .layer(HttpErrorLayer::new()) // rejections become problem+json
//!             // Each caller gets its own keys: here its credentials (hashed, not stored).
//!             .layer(IdempotencyLayer::new(MemoryStore::new(), |req: &http::request::Parts| {
//!                 req.headers.get("authorization").map(|v| v.as_bytes().to_vec())
//!             })),
//!     );
//!
//! let charge = || {
//!     Request::post("/charge")
//!         .header("authorization", "Bearer alice")
//!         .header("idempotency-key", "order-42")
//!         .body(axum::body::Body::from("{\"cents\":250}"))
//!         .unwrap()
//! };
//! let first = app.clone().oneshot(charge()).await.unwrap();
//! assert_eq!(first.status(), StatusCode::CREATED);
//!
//! // The retry is answered from the store: same status and body, handler not run.
//! let retry = app.oneshot(charge()).await.unwrap();
//! assert_eq!(retry.status(), StatusCode::CREATED);
//! assert_eq!(retry.headers()["idempotent-replayed"], "true");
//! assert_eq!(charges.load(Ordering::SeqCst), 1);
//! # }
//! ```
//!
//! # What happens to a request
//!
//! Requests whose method is not protected (default: POST and PATCH, the methods the IETF
//! draft `draft-ietf-httpapi-idempotency-key-header` targets) pass through untouched, as
//! do protected requests without a key unless the key is
//! [required](IdempotencyLayerBuilder::require_key). Otherwise:
//!
//! | situation | answer | outcome label |
//! |---|---|---|
//! | key malformed (empty, over 255 characters, not visible ASCII, half-quoted like `"abc`, repeated), or missing when required | 400 `InvalidRequest` | `invalid` |
//! | body over [`max_request_body`](IdempotencyLayerBuilder::max_request_body) | 413 `PayloadTooLarge`, handler not run | `invalid` |
//! | first request with the key | the handler's response, stored | `new` |
//! | same key and request, first still running | 409 `IdempotencyConflict` + `Retry-After` | `conflict` |
//! | same key and request, first finished | stored status, headers and body + `Idempotent-Replayed: true` | `replayed` |
//! | same key, different request | 422 `IdempotencyMismatch` | `mismatch` |
//! | store unreachable | 503 `StoreUnavailable`, or the handler runs unprotected with [`fail_open`](IdempotencyLayerBuilder::fail_open) | `store_error` |
//!
//! "Same request" means the same fingerprint: SHA-256 over the method, the path with its
//! query, the body and the [scope](IdempotencyLayerBuilder::scope), each length-prefixed
//! so fields cannot run together. The key is read bare (`order-42`, as Stripe sends it:
//! visible ASCII, no spaces) or as the draft's structured-field string (`"order-42"`,
//! read as RFC 8941 says: spaces allowed, `\"` and `\\` escape a quote and a backslash,
//! and the key is the unescaped value, 1–255 characters either way).
//!
//! # Scope
//!
//! Keys are chosen by clients, so two clients can send the same one, by accident or to
//! read what another stored. The layer therefore needs a
//! [scope](IdempotencyLayerBuilder::scope) (the caller's identity, read from the request
//! head) and keeps each scope's keys apart: a client never gets another client's stored
//! response, nor learns that another client used a key. [`IdempotencyLayer::new`] takes
//! one; a builder without one fails to build. Where every caller may see every response
//! (one trusted caller), say so with [`unscoped`](IdempotencyLayerBuilder::unscoped).
//!
//! Exactly one of any number of concurrent requests with one key runs the handler: the
//! store's [`claim`](IdempotencyStore::claim) is atomic, and the handler runs only after
//! it. Checking, running, then storing (as some crates do) lets concurrent duplicates all
//! run.
//!
//! # What is stored
//!
//! The status, every header but a deny-list ([`DEFAULT_UNSTORED_HEADERS`]: `set-cookie`,
//! the hop-by-hop headers, `content-length` and `date`; change it with
//! [`unstored_headers`](IdempotencyLayerBuilder::unstored_headers), or store only an
//! allow-list with [`stored_headers`](IdempotencyLayerBuilder::stored_headers)), and the
//! body, once the response body has been read in
//! full (up to [`max_response_body`](IdempotencyLayerBuilder::max_response_body)); the
//! response is sent after it is stored, so a client that saw it can always replay it.
//! Not stored, the key released so that a retry runs the handler again:
//!
//! - 5xx, 408 and 429 responses (what [`HttpStatus`](crate::http::HttpStatus) calls
//!   transient: the request may succeed if retried), and errors of the inner service;
//! - bodies over `max_response_body` and bodies with trailers: sent as they are,
//!   streamed after the part already read, with a `debug` event saying why.
//!
//! Other 4xx responses are stored: the same request would fail the same way.
//!
//! # Errors
//!
//! Like every layer of this crate, the service fails with [`resilience_core::Error`]: the
//! layer's own refusals carry the kinds above, the primitive `idempotency` and the
//! instance name; inner errors pass through [`Error::wrap`](resilience_core::Error::wrap).
//! Put [`HttpErrorLayer`](crate::http::HttpErrorLayer) outside it to answer them as
//! problem+json (and to satisfy `axum::Router::layer`, which needs an infallible service).
//!
//! # Cancellation
//!
//! If the response future is dropped while the handler runs (the client disconnected and
//! the server dropped the request), the handler's future is dropped with it: it is not
//! running any more. By default ([`release_on_cancel`](IdempotencyLayerBuilder::release_on_cancel))
//! the key is then released from a spawned task, so the client's retry runs at once
//! instead of receiving 409 until the lock TTL passes. Holding the key would not make a
//! handler that was cut off halfway any safer, only slower to retry: the lock expires
//! anyway. The one case where holding helps is a handler that hands its work to a
//! detached task (`tokio::spawn`) that keeps running after the request is dropped;
//! set `release_on_cancel(false)` for those, so a retry waits for the lock TTL.
//!
//! Once the handler has answered, its work is done and dropping the request cancels
//! nothing: the layer finishes in a spawned task what it was doing (reading the response
//! body and storing it, or releasing the key), within the lock TTL, so the client's retry
//! gets the replay rather than a second run of the handler. (Bounding that task needs
//! tokio's timers, which every axum or hyper server runtime enables.)
//!
//! # Lock TTL
//!
//! A claim holds the key for [`lock_ttl`](IdempotencyLayerBuilder::lock_ttl). A handler
//! that runs longer loses it: a duplicate arriving after that runs too, and the first
//! handler's response is sent but not stored (the store refuses the stale lease; a
//! `warn` event says so). Keep the lock TTL above your slowest handler.
//!
//! # Bodies
//!
//! The request body is read in full (it is part of the fingerprint) within
//! [`request_body_timeout`](IdempotencyLayerBuilder::request_body_timeout) (60 s; a body
//! still incomplete then is answered 400, the key never claimed), a bounded number of
//! frames per poll (a body of many tiny ready chunks yields to other tasks between
//! them), and handed to the
//! inner service rebuilt with `ReqBody::from(Bytes)`, which axum's `Body` and
//! `http_body_util::Full` provide; request trailers are dropped. The response body type
//! is [`PrefixedBody`]: the handler's body untouched, or the stored bytes.

mod config;
mod fingerprint;
mod future;
mod key;
mod layer;
mod lease;
mod run;
mod telemetry;

use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, Response};
use http_body::Body;
use resilience_core::{BoxError, Error, ErrorKind};
use tower_service::Service;

pub use config::{
    DEFAULT_UNSTORED_HEADERS, IDEMPOTENCY_KEY, IDEMPOTENT_REPLAYED, IdempotencyLayerBuilder,
};
pub use future::ResponseFuture;
pub use layer::IdempotencyLayer;
#[cfg(feature = "redis")]
pub use resilience_core::idempotency::RedisStore;
pub use resilience_core::idempotency::{IdempotencyStore, MemoryStore};

use crate::body::PrefixedBody;
use config::Config;
use key::KeyHeader;
use telemetry::Metrics;

/// What every service of one layer shares.
pub(crate) struct Shared<St> {
    pub(crate) store: St,
    pub(crate) config: Config,
    pub(crate) metrics: Metrics,
}

/// The service built by [`IdempotencyLayer`]; see [the module docs](self).
///
/// # Clone
///
/// Clones share the store, the configuration and the metric handles, and clone the inner
/// service. A protected request takes the inner service that was made ready and leaves a
/// fresh clone in its place (the inner service must be `Clone`), because the body is read
/// and the store consulted before the inner service is called.
pub struct IdempotencyService<S, St> {
    inner: S,
    shared: Arc<Shared<St>>,
}

impl<S, St> IdempotencyService<S, St> {
    pub(crate) fn new(inner: S, shared: Arc<Shared<St>>) -> Self {
        Self { inner, shared }
    }

    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The wrapped service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Unwraps the service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S: Clone, St> Clone for IdempotencyService<S, St> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<S: fmt::Debug, St> fmt::Debug for IdempotencyService<S, St> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdempotencyService")
            .field("inner", &self.inner)
            .field("config", &self.shared.config)
            .finish_non_exhaustive()
    }
}

impl<S, St, ReqBody, ResBody> Service<Request<ReqBody>> for IdempotencyService<S, St>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    St: IdempotencyStore + 'static,
    ReqBody: Body + From<Bytes> + Send + 'static,
    ReqBody::Data: Send,
    ReqBody::Error: Into<BoxError>,
    ResBody: Body<Data = Bytes> + Send + 'static,
    ResBody::Error: Into<BoxError>,
{
    type Response = Response<PrefixedBody<ResBody>>;
    type Error = Error;
    type Future = ResponseFuture<S::Future, ResBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.inner.poll_ready(cx).map_err(Error::wrap)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let config = &self.shared.config;
        if !config.methods.contains(request.method()) {
            return ResponseFuture::passthrough(self.inner.call(request));
        }
        let key = match key::read(request.headers(), &config.header) {
            KeyHeader::Valid(key) => Box::<str>::from(key),
            KeyHeader::Absent if !config.require_key => {
                return ResponseFuture::passthrough(self.inner.call(request));
            }
            KeyHeader::Absent => {
                return self.invalid("This request requires an Idempotency-Key header.");
            }
            KeyHeader::Malformed(why) => return self.invalid(why),
        };
        // The request runs later, after the body is read and the key claimed: take the
        // service that was made ready and leave a clone for the next `poll_ready`.
        let clone = self.inner.clone();
        let inner = std::mem::replace(&mut self.inner, clone);
        ResponseFuture::protected(Box::pin(run::protected(
            Arc::clone(&self.shared),
            inner,
            request,
            key,
        )))
    }
}

impl<S, St> IdempotencyService<S, St> {
    fn invalid<F, B>(&self, detail: &'static str) -> ResponseFuture<F, B> {
        self.shared.metrics.invalid.increment(1);
        ResponseFuture::rejected(run::rejection(
            &self.shared,
            ErrorKind::InvalidRequest,
            detail,
        ))
    }
}
