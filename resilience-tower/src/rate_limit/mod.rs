//! [`RateLimitLayer`]: a rate limit in front of a service — one limit for everything, one
//! per client, or one across every instance (Redis) — answered with 429, `Retry-After` and
//! the IETF `RateLimit` headers; or, in front of a rate-limited provider, a bounded wait.
//!
//! ```
//! use std::time::Duration;
//!
//! use axum::{Router, routing::get};
//! use resilience_core::rate_limit::{KeyedRateLimiter, RateLimiter};
//! use resilience_tower::http::HttpErrorLayer;
//! use resilience_tower::rate_limit::{PeerIp, RateLimitLayer};
//! use tower::ServiceBuilder;
//!
//! // Everyone together: 1,000 requests a second. Each client address: 10 a second,
//! // 20 at once.
//! let everyone = RateLimiter::builder().name("api").rate(1000.0).build().unwrap();
//! let per_client = KeyedRateLimiter::builder()
//!     .name("per-client")
//!     .rate(10.0)
//!     .burst(20)
//!     .build()
//!     .unwrap();
//!
//! let app: Router = Router::new()
//!     .route("/search", get(|| async { "results" }))
//!     .layer(
//!         ServiceBuilder::new()
//!             .layer(HttpErrorLayer::new())
//!             .layer(RateLimitLayer::new(everyone))
//!             .layer(RateLimitLayer::new(per_client).key(PeerIp::new())),
//!     );
//! # let _ = app;
//! ```
//!
//! # Answers
//!
//! A request the limit refuses is never passed on: the service fails with
//! [`RateLimited`](resilience_core::ErrorKind::RateLimited), which
//! [`HttpErrorLayer`](crate::http::HttpErrorLayer) answers as
//!
//! ```text
//! HTTP/1.1 429 Too Many Requests
//! Retry-After: 1
//! RateLimit-Policy: "per-client";q=20;w=2
//! RateLimit: "per-client";r=0;t=2
//! Content-Type: application/problem+json
//! ```
//!
//! (gRPC requests get `RESOURCE_EXHAUSTED` with `grpc-retry-pushback-ms`.) A request that
//! gets through has `RateLimit-Policy` and `RateLimit` added to its response, so clients
//! can pace themselves before they are refused: `q` is the burst, `w` the seconds an
//! exhausted client takes to get it all back, `r` what the client may still send at once,
//! `t` the seconds until it has its whole quota again (see
//! draft-ietf-httpapi-ratelimit-headers). Layers stacked as above each add their own
//! policy to the lists. Writing `RateLimit` costs one small allocation per response;
//! [`without_headers`](RateLimitLayer::without_headers) turns it off.
//!
//! # Keys
//!
//! | extractor | key | limiter |
//! |---|---|---|
//! | [`Global`] (default) | `()` | [`RateLimiter`], or a `RedisRateLimiter` for one limit across instances |
//! | [`Header`] | the header's bytes (digested past 64 bytes) | `KeyedRateLimiter<Vec<u8>>`, or a `RedisRateLimiter` |
//! | [`PeerIp`] | the client's address (IPv6 per /64) | `KeyedRateLimiter<IpAddr>`, or a `RedisRateLimiter` |
//! | [`KeyFn`] | whatever the closure returns; `None` exempts the request | a `KeyedRateLimiter<K>` |
//!
//! A keyed limiter holds a bounded number of keys (see
//! [`KeyedRateLimiter`]); keys never become
//! metric labels.
//!
//! # Client side
//!
//! In front of a provider with a quota, [`RateLimitLayer::client`] with a limiter that has
//! a [`max_wait`](resilience_core::rate_limit::RateLimiterBuilder::max_wait) makes each
//! call wait for its turn (bounded by `max_wait` and the ambient deadline) instead of
//! hitting the provider's 429s, and leaves the provider's responses untouched:
//!
//! ```
//! use std::time::Duration;
//!
//! use resilience_core::rate_limit::RateLimiter;
//! use resilience_tower::rate_limit::RateLimitLayer;
//!
//! let quota = RateLimiter::builder()
//!     .name("geocoder")
//!     .limit(50, Duration::from_secs(1))
//!     .max_wait(Duration::from_millis(500))
//!     .build()
//!     .unwrap();
//! let layer = RateLimitLayer::client(quota);
//! # let _ = layer;
//! ```
//!
//! # Why decide in `call`
//!
//! As with the [bulkhead](crate::bulkhead), the decision is made in `call`, per request:
//! axum's router is always ready and clones the service per request, so a limit enforced
//! in `poll_ready` (as tower's `RateLimit` does, by sleeping there) never pushes back on
//! anyone. A refused request fails at once; a waiting one keeps the (ready) inner service
//! and the request in its future, which is why `S: Clone`.

mod future;
mod headers;
mod key;
mod layer;
mod stamp;

use std::task::{Context, Poll};

use resilience_core::rate_limit::{Acquire, Grant, Guarded, RateLimitBy};
use resilience_core::{BoxError, Error};
use tower_service::Service;

use crate::bulkhead::Deferred;
pub use future::ResponseFuture;
pub(crate) use headers::insert_for_error;
pub use headers::{RATELIMIT, RATELIMIT_POLICY};
pub use key::{Global, Header, KeyExtractor, KeyFn, PeerIp};
pub use layer::RateLimitLayer;
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub use resilience_core::rate_limit::RedisRateLimiter;
pub use resilience_core::rate_limit::{KeyedRateLimiter, RateLimiter};
pub use stamp::{NoHeaders, RateLimitHeaders, Stamp};

/// A service that lets each request through only when a rate limit has room for it.
///
/// - `poll_ready` is the inner service's; it never waits for the limit.
/// - `call` asks the limiter for the request's key. Admitted: the inner service is called
///   at once. Refused: the future fails with the limiter's error (`RateLimited`, or
///   `DeadlineExceeded` when the turn would come after the ambient deadline) and the inner
///   service is never called. Booked for later (the limiter has a `max_wait`) or waiting
///   for Redis: the ready inner service and the request wait in the future, and a clone
///   of the inner service takes its place.
/// - The response is marked as `H` says ([`RateLimitHeaders`] or [`NoHeaders`]).
/// - Inner errors become [`Error`] with [`Error::wrap`] (an inner `Error` passes
///   through unchanged).
///
/// Any request type works with [`Global`] and [`KeyFn`] keys and [`NoHeaders`]; the
/// header and peer-address keys and the headers need HTTP.
///
/// # Clone
///
/// Clones share the limiter (one limit for all of them, as axum's per-request clones
/// need) and clone the inner service.
#[derive(Clone, Debug)]
pub struct RateLimitService<S, L, X = Global, H = RateLimitHeaders> {
    inner: S,
    limiter: L,
    extractor: X,
    stamp: H,
}

impl<S, L, X, H> RateLimitService<S, L, X, H> {
    pub(crate) fn from_parts(inner: S, limiter: L, extractor: X, stamp: H) -> Self {
        Self {
            inner,
            limiter,
            extractor,
            stamp,
        }
    }

    /// The shared limiter, for introspection.
    pub fn limiter(&self) -> &L {
        &self.limiter
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

impl<S, L, X, H, Req> Service<Req> for RateLimitService<S, L, X, H>
where
    S: Service<Req> + Clone,
    S::Error: Into<BoxError>,
    X: KeyExtractor<Req>,
    L: RateLimitBy<X::Key>,
    H: Stamp<S::Response>,
{
    type Response = S::Response;
    type Error = Error;
    type Future = ResponseFuture<S, Req, H>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.inner.poll_ready(cx).map_err(Error::wrap)
    }

    fn call(&mut self, request: Req) -> Self::Future {
        let limiter = &self.limiter;
        let acquire = self
            .extractor
            .with_key(&request, |key| key.map(|key| limiter.acquire_key(key, 1)));
        let stamp = self.stamp.clone();
        match acquire.map(Acquire::into_decided) {
            // Exempt (no key): called at once, and nothing to write on the response.
            None => {
                let kept = H::keep(Grant::unchecked());
                ResponseFuture::admitted(self.inner.call(request), kept, stamp)
            }
            Some(Ok(Ok(grant))) => {
                ResponseFuture::admitted(self.inner.call(request), H::keep(grant), stamp)
            }
            Some(Ok(Err(error))) => ResponseFuture::refused(error, stamp),
            Some(Err(acquire)) => {
                // The ready service waits with the request; a clone takes its place.
                let fresh = self.inner.clone();
                let service = std::mem::replace(&mut self.inner, fresh);
                let guarded = Guarded::waiting(acquire, Deferred { service, request });
                ResponseFuture::waiting(guarded, stamp)
            }
        }
    }
}
