//! Health: cached single-flight checks with timeouts, readiness (startup, dependencies,
//! breakers, bulkheads, shutdown), startup retries, draining, configuration, telemetry and
//! the serialized format.

mod cache;
mod config;
#[cfg(feature = "serde")]
mod json;
mod readiness;
#[cfg(feature = "redis")]
mod redis;
mod shutdown;
mod startup;
mod support;
mod telemetry;
