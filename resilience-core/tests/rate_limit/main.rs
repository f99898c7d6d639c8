//! Rate limiting: the GCRA against a token-bucket model, the bound over any window, real
//! concurrency, waiting and the deadline, keyed limits in bounded memory, configuration,
//! telemetry, and the Redis limiter against a real Redis.

mod concurrency;
mod config;
#[cfg(feature = "redis")]
mod failover;
mod keyed;
mod local;
mod model;
#[cfg(feature = "redis")]
mod redis;
mod registry;
mod telemetry;
