//! Health: cached single-flight checks with timeouts, readiness (startup, dependencies,
//! breakers, bulkheads, shutdown), startup retries, draining, configuration, telemetry and
//! the serialized format.

mod cache;
mod config;
mod readiness;
#[cfg(feature = "redis")]
mod redis;
#[cfg(feature = "serde")]
mod serde;
mod shutdown;
mod startup;
mod support;
mod telemetry;
