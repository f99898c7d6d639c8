//! Resilience primitives for async Rust, sharing one error model.
//!
//! This crate holds what every primitive and layer agrees on:
//!
//! - [`Error`]: the one error type, with an [`ErrorKind`], structured context and
//!   [`is_rejection`](Error::is_rejection);
//! - [`classify`]: what an outcome means for retries and breakers ([`Class`]);
//! - [`outcome`]: [`Outcome`](outcome::Outcome), what every guarded future takes in and
//!   gives back (the operation's own result, or a primitive's error);
//! - [`circuit_breaker`](mod@circuit_breaker): [`CircuitBreaker`], lock-free on its closed path;
//! - [`retry`]: bounded retries ([`retry::RetryPolicy`], [`retry::RetryBudget`]);
//! - [`deadline`](mod@deadline): an absolute [`Deadline`], ambient per task, enforced and
//!   propagated (`grpc-timeout` and millisecond codecs);
//! - [`timeout`](mod@timeout): a time limit per attempt;
//! - [`bulkhead`]: a concurrency cap with fast rejection and a bounded wait queue;
//! - [`coalesce`]: identical requests in flight share one call ([`coalesce::Coalescer`]);
//! - [`fallback`]: a value, a computed answer or the last success in place of a failure
//!   ([`fallback::Fallback`]);
//! - [`hedge`]: another attempt when one is slow, first success wins ([`hedge::Hedge`]);
//! - [`adaptive`]: a bulkhead whose limit is found from latency and failures (AIMD, Vegas);
//! - [`throttle`]: client-side adaptive throttling (Google SRE), refusing locally what a
//!   rejecting backend would refuse anyway;
//! - [`idempotency`]: run once per key, replay duplicates ([`idempotency::MemoryStore`],
//!   and `RedisStore` with feature `redis`);
//! - [`rate_limit`]: a rate and a burst, lock-free ([`rate_limit::RateLimiter`]), per key in
//!   bounded memory ([`rate_limit::KeyedRateLimiter`]), or across instances
//!   (`RedisRateLimiter` with feature `redis`);
//! - [`health`]: liveness and readiness ([`health::Health`]) from dependency checks with
//!   timeouts and caching, the registry's breakers and bulkheads, startup checks, and
//!   graceful shutdown that drains in-flight requests;
//! - [`registry`](mod@registry): named instances shared by name ([`Registry::global`]), with snapshots;
//! - [`config`]: [`ConfigError`], what every builder returns for an invalid setting;
//! - [`telemetry`]: every metric name, label and span field; `prometheus::builder`, an
//!   exporter that renders every duration as a histogram (feature `prometheus`);
//! - [`resilient`]: the attribute that wraps an async function (feature `macros`, on by
//!   default).
//!
//! ```
//! use resilience_core::{Error, ErrorKind};
//!
//! #[derive(Debug)]
//! enum PayError {
//!     Declined,
//!     Resilience(Error),
//! }
//!
//! impl From<Error> for PayError {
//!     fn from(err: Error) -> Self {
//!         PayError::Resilience(err)
//!     }
//! }
//!
//! #[resilience_core::resilient(name = "payments.charge")]
//! async fn charge(cents: u64) -> Result<u64, PayError> {
//!     if cents == 0 {
//!         return Err(PayError::Declined);
//!     }
//!     Ok(cents)
//! }
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! assert_eq!(charge(250).await.unwrap(), 250);
//! assert!(matches!(charge(0).await, Err(PayError::Declined)));
//!
//! // Rejections say that the operation was never called.
//! let shed = Error::new(ErrorKind::BulkheadFull);
//! assert!(shed.is_rejection());
//! # }
//! ```
//!
//! # The shape of a primitive
//!
//! Each primitive's logic lives once, in its module: a handle (cheap to clone, built by a
//! validated builder, nameable in the [`Registry`]) and a *guarded future* that does the
//! primitive's work around an operation — [`circuit_breaker::Guarded`] (admission,
//! classification, recording), [`bulkhead::Guarded`] (a permit, or a place in the queue),
//! [`retry::Retrying`] (the loop), [`deadline::Enforce`] and [`timeout::Timeout`] (a
//! lazily armed timer). The functions you call ([`CircuitBreaker::call`],
//! [`RetryPolicy::run`](retry::RetryPolicy::run), ...) are these futures; the tower layers
//! of `resilience-tower` wrap them, adding only what a service needs (readiness, request
//! replay, headers); `#[resilient]` nests them. A new primitive is written once and
//! appears in all three places by composition.
//!
//! The HTTP side (problem+json responses, classification by status code, `Retry-After`)
//! lives in the `resilience-tower` crate.

#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod adaptive;
pub mod bulkhead;
pub mod circuit_breaker;
pub mod classify;
pub mod coalesce;
pub mod config;
pub mod deadline;
mod durations;
mod error;
pub mod fallback;
pub mod fault;
pub mod health;
pub mod hedge;
pub mod idempotency;
mod macro_support;
mod name;
pub mod outcome;
#[cfg(feature = "prometheus")]
pub mod prometheus;
pub mod rate_limit;
#[cfg(feature = "redis")]
mod redis_client;
pub mod registry;
pub mod retry;
mod rng;
#[cfg(feature = "serde")]
mod ser;
#[cfg(feature = "serde")]
#[cfg_attr(docsrs, doc(cfg(feature = "serde")))]
pub mod settings;
mod sync;
pub mod telemetry;
pub mod throttle;
pub mod timeout;
mod timer;

pub use circuit_breaker::CircuitBreaker;
pub use classify::{Class, Classify};
pub use config::ConfigError;
pub use deadline::Deadline;
pub use error::{Error, ErrorKind, FieldValue, Primitive};
pub use name::Name;
pub use registry::Registry;

/// A type-erased error, as tower and most middleware pass errors around.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[cfg(feature = "macros")]
#[doc(inline)]
#[doc = include_str!("docs/resilient.md")]
pub use resilience_macros::resilient;

/// Not public API: what code generated by `#[resilient]` calls. May change in any release.
#[doc(hidden)]
pub mod __private {
    pub use tracing::Instrument;

    pub use crate::classify::TransientErrors;
    pub use crate::macro_support::*;
    pub use crate::telemetry::call_span;
}
