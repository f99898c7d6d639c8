//! Tower layers and HTTP glue for [`resilience_core`].
//!
//! Every layer here returns [`resilience_core::Error`]. An error produced further in
//! that already is one passes through (enriched), never wrapped twice, so a stack of
//! layers fails in one flat vocabulary.
//!
//! - [`circuit_breaker`](mod@circuit_breaker): [`CircuitBreakerLayer`](circuit_breaker::CircuitBreakerLayer),
//!   a [`CircuitBreaker`](circuit_breaker::CircuitBreaker) around any service, judging
//!   HTTP answers by status by default.
//! - [`coalesce`]: [`coalesce::CoalesceLayer`], one inner call for identical requests
//!   in flight.
//! - [`bulkhead`]: [`bulkhead::BulkheadLayer`], a concurrency cap that rejects the
//!   excess at once (acquired in `call`, so it works behind axum's always-ready router).
//! - [`fallback`]: [`fallback::FallbackLayer`] answers chosen failures with a value, a
//!   computed answer or the last success for the same key, and marks it (a header).
//! - [`hedge`]: [`hedge::HedgeLayer`] and, for HTTP with the retry layer's rule of what
//!   may be repeated, [`hedge::HttpHedgeLayer`]: another attempt when one is slow.
//! - [`adaptive`]: [`adaptive::AdaptiveBulkheadLayer`], a bulkhead whose limit follows
//!   the latency and failures of the calls it lets through (AIMD, Vegas).
//! - [`throttle`]: [`throttle::AdaptiveThrottleLayer`], client-side adaptive throttling
//!   (Google SRE): stop sending what the backend is already rejecting.
//! - [`http`]: classification by status code ([`http::HttpStatus`]), `Retry-After`
//!   parsing ([`http::RetryAfter`]), problem+json responses ([`http::ProblemConfig`]) and
//!   the layer that makes a stack infallible for `axum::Router::layer`
//!   ([`http::HttpErrorLayer`]).
//! - [`idempotency`]: `Idempotency-Key` semantics ([`idempotency::IdempotencyLayer`]):
//!   duplicates of a POST run the handler once and get the first response replayed.
//! - [`rate_limit`]: [`rate_limit::RateLimitLayer`], a rate limit per service, per client
//!   or across instances, answered with 429 and the IETF `RateLimit` headers; or a
//!   bounded wait in front of a rate-limited provider.
//! - [`retry`]: [`retry::RetryLayer`] and, for HTTP with replayable bodies and the
//!   idempotency rule, [`retry::HttpRetryLayer`].
//! - [`health`]: liveness and readiness endpoints ([`health::HealthService`], and
//!   `health::router` with feature `axum`) in the IETF health check format, and
//!   [`health::DrainLayer`] for graceful shutdown.
//! - [`deadline`]: deadline propagation — [`deadline::DeadlineLayer`] receives a caller's
//!   deadline (`grpc-timeout` or milliseconds) and enforces it,
//!   [`deadline::PropagateDeadlineLayer`] hands what is left to the next service.
//! - [`fault`]: [`fault::FaultLayer`], latency, error answers, aborts and hangs injected
//!   by rate (seeded, switchable at run time, off by default) to test the layers above.
//! - [`body`]: [`body::PrefixedBody`], the body the layers that hold bytes hand on.
//!
//! Each middleware module has its layer (`XLayer`), its service (`XService`) and its
//! `ResponseFuture`, and re-exports the core handle it wraps, so one import root serves
//! a primitive. A `ResponseFuture` wraps the core primitive's own guarded future (for
//! example [`resilience_core::circuit_breaker::Guarded`]) and adds only what a tower
//! service needs: readiness, request replay, headers, bodies.
//!
//! ```
//! use axum::{Router, routing::get};
//! use resilience_tower::http::HttpErrorLayer;
//! use tower::ServiceBuilder;
//!
//! let app: Router = Router::new()
//!     .route("/", get(|| async { "hello" }))
//!     .layer(ServiceBuilder::new().layer(HttpErrorLayer::new()));
//! # let _ = app;
//! ```
//!
//! # Features
//!
//! - `axum`: `IntoResponse` for [`http::HttpError`], so handlers can return resilience
//!   errors directly; [`rate_limit::PeerIp`] reads axum's `ConnectInfo`.
//! - `redis`: the Redis idempotency store and rate limiter.
//!   errors directly; `health::router`.

#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod adaptive;
pub mod body;
pub mod bulkhead;
pub mod circuit_breaker;
pub mod coalesce;
pub mod deadline;
pub mod fallback;
pub mod fault;
pub mod health;
pub mod hedge;
pub mod http;
pub mod idempotency;
pub mod key;
pub mod rate_limit;
mod replay;
#[cfg(feature = "reqwest")]
pub mod reqwest;
pub mod retry;
pub mod throttle;

/// The README's examples, compiled and run as doctests (they use the `axum`, `redis` and
/// `reqwest` features: run with `--all-features`).
#[cfg(all(doctest, feature = "axum", feature = "redis", feature = "reqwest"))]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;
