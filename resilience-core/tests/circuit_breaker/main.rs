//! Circuit breaker: state machine, windows, concurrency, configuration, telemetry, registry.

mod behaviour;
mod concurrency;
mod config;
mod model;
mod panics_deadlines_and_probes;
mod probe_timeout;
mod registry;
mod telemetry;

use std::time::Duration;

/// Milliseconds, for brevity.
pub(crate) const fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}
