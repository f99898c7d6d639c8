//! Checks read from the [`Registry`]'s primitives: every circuit breaker, bulkhead,
//! adaptive bulkhead and adaptive throttle.
//!
//! They cost no I/O (a snapshot of atomics), so they are read fresh on every probe
//! instead of cached, and a breaker or bulkhead registered after the [`Health`](super::Health)
//! was built is listed too.
//!
//! | primitive | key | `observedValue` | status |
//! |---|---|---|---|
//! | circuit breaker | `{name}:circuitBreaker` | the state (`"open"`) | closed, disabled: pass; half-open: warn; open, forced open: fail, non-critical unless [`critical_circuit_breaker`](super::HealthBuilder::critical_circuit_breaker) |
//! | bulkhead | `{name}:bulkhead` | permits in use / capacity (`observedUnit` `"ratio"`) | warn when every permit is taken, else pass |
//! | adaptive bulkhead | `{name}:adaptiveBulkhead` | permits in use / current limit (`"ratio"`) | warn when every permit the limit allows is taken, else pass |
//! | adaptive throttle | `{name}:throttle` | the probability of refusing the next call locally | warn while it refuses calls (the backend is rejecting), else pass |
//!
//! None of them fails readiness: a full bulkhead or a throttled dependency is load this
//! instance is already shedding, and taking it out of rotation would move that load onto
//! its peers.

use std::fmt;
use std::ops::Deref;

use super::{CheckReport, Status};
use crate::circuit_breaker::State;
use crate::{Name, Registry};

/// A registry owned by the [`Health`](super::Health) or borrowed for the whole program.
pub(crate) struct RegistryChecks {
    registry: Box<dyn Deref<Target = Registry> + Send + Sync>,
    critical_breakers: Vec<Name>,
}

impl RegistryChecks {
    pub(crate) fn new(
        registry: Box<dyn Deref<Target = Registry> + Send + Sync>,
        critical_breakers: Vec<Name>,
    ) -> Self {
        Self {
            registry,
            critical_breakers,
        }
    }

    /// One report per breaker, then per bulkhead, adaptive bulkhead and throttle, each kind
    /// sorted by name.
    pub(crate) fn reports(&self) -> impl Iterator<Item = CheckReport> + '_ {
        let snapshot = self.registry.snapshot();
        let breakers = snapshot.circuit_breakers.into_iter().map(|breaker| {
            let status = match breaker.state {
                State::Closed | State::Disabled => Status::Pass,
                State::HalfOpen => Status::Warn,
                State::Open | State::ForcedOpen => Status::Fail,
            };
            let mut report = CheckReport::new(format!("{}:circuitBreaker", breaker.name), status)
                .with_component("component")
                .with_observed(breaker.state.as_str(), None);
            report.critical = self.critical_breakers.contains(&breaker.name);
            report
        });
        let bulkheads = snapshot.bulkheads.into_iter().map(|bulkhead| {
            saturation(
                format!("{}:bulkhead", bulkhead.name),
                bulkhead.in_flight,
                bulkhead.capacity,
            )
        });
        let adaptive = snapshot.adaptive_bulkheads.into_iter().map(|bulkhead| {
            saturation(
                format!("{}:adaptiveBulkhead", bulkhead.name),
                bulkhead.in_flight,
                bulkhead.limit,
            )
        });
        let throttles = snapshot.throttles.into_iter().map(|throttle| {
            let status = if throttle.rejection_probability > 0.0 {
                Status::Warn
            } else {
                Status::Pass
            };
            CheckReport::new(format!("{}:throttle", throttle.name), status)
                .with_component("component")
                .with_observed(throttle.rejection_probability, None)
        });
        breakers.chain(bulkheads).chain(adaptive).chain(throttles)
    }
}

/// A bulkhead's entry: the share of its permits in use, `warn` when every one is taken.
fn saturation(key: String, in_flight: usize, capacity: usize) -> CheckReport {
    let status = if in_flight >= capacity {
        Status::Warn
    } else {
        Status::Pass
    };
    // Capacities are far below 2^52: the ratio is exact enough.
    #[allow(clippy::cast_precision_loss)]
    let used = in_flight as f64 / capacity.max(1) as f64;
    CheckReport::new(key, status)
        .with_component("component")
        .with_observed(used, Some("ratio"))
}

impl fmt::Debug for RegistryChecks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegistryChecks")
            .field("registry", &**self.registry)
            .field("critical_breakers", &self.critical_breakers)
            .finish()
    }
}
