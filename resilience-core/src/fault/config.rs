//! [`FaultBuilder`]: the validated configuration of a [`Fault`].

use std::time::Duration;

use super::{Fault, Shared, Tuned};
use crate::config::{ConfigError, check};
use crate::{Name, Primitive};

/// Builds a [`Fault`]; see [`Fault::builder`].
///
/// | option | default | why |
/// |---|---|---|
/// | [`name`](Self::name) | `"default"` | the instance name of every primitive |
/// | [`enabled`](Self::enabled) | `false` | off by default: a fault layer left in a build injects nothing until switched on |
/// | [`seed`](Self::seed) | 0 | seeded by default: the same calls get the same faults, run after run |
/// | [`latency`](Self::latency) | none | |
/// | [`error_rate`](Self::error_rate), [`abort_rate`](Self::abort_rate), [`hang_rate`](Self::hang_rate) | 0 | |
///
/// [`build`](Self::build) returns a [`ConfigError`] naming the option at fault for a rate
/// that is not a number in `[0, 1]`, error, abort and hang rates adding up to more than 1
/// (each call gets at most one of them), and a latency range that is inverted or zero.
#[derive(Clone, Debug)]
#[must_use = "a builder does nothing until `build` is called"]
pub struct FaultBuilder {
    name: Name,
    enabled: bool,
    seed: u64,
    latency_rate: f64,
    latency: (Duration, Duration),
    error_rate: f64,
    abort_rate: f64,
    hang_rate: f64,
}

impl Default for FaultBuilder {
    fn default() -> Self {
        Self {
            name: Name::from_static("default"),
            enabled: false,
            seed: 0,
            latency_rate: 0.0,
            latency: (Duration::ZERO, Duration::ZERO),
            error_rate: 0.0,
            abort_rate: 0.0,
            hang_rate: 0.0,
        }
    }
}

impl FaultBuilder {
    /// The instance name: the `name` label of its metrics. Keep it from configuration,
    /// never from request data.
    pub fn name(mut self, name: impl Into<Name>) -> Self {
        self.name = name.into();
        self
    }

    /// Whether it injects from the start; switch it at run time with
    /// [`Fault::enable`] and [`Fault::disable`]. Off by default.
    pub fn enabled(mut self, enabled: bool) -> Self {
        self.enabled = enabled;
        self
    }

    /// The seed of its draws: two faults with the same seed and rates inject the same
    /// faults into their first, second, third ... calls.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Delays a share `rate` of calls by a duration drawn uniformly from `min..=max`
    /// before the operation starts. Independent of the other faults: a delayed call may
    /// also get an error answer or an abort (after the delay).
    pub fn latency(mut self, rate: f64, min: Duration, max: Duration) -> Self {
        self.latency_rate = rate;
        self.latency = (min, max);
        self
    }

    /// Answers a share `rate` of calls with an error answer instead of calling the
    /// operation: an [`ErrorKind::FaultInjected`](crate::ErrorKind::FaultInjected) error,
    /// or whatever the caller gives as the answer (an HTTP status in the tower layer).
    pub fn error_rate(mut self, rate: f64) -> Self {
        self.error_rate = rate;
        self
    }

    /// Fails a share `rate` of calls with an
    /// [`ErrorKind::FaultInjected`](crate::ErrorKind::FaultInjected) error instead of
    /// calling the operation: what a reset connection looks like to the caller.
    pub fn abort_rate(mut self, rate: f64) -> Self {
        self.abort_rate = rate;
        self
    }

    /// Never completes a share `rate` of calls (until the caller drops them), without
    /// calling the operation: a dependency that accepts requests and never answers.
    pub fn hang_rate(mut self, rate: f64) -> Self {
        self.hang_rate = rate;
        self
    }

    /// Validates the options and builds the fault, resolving its metric handles against
    /// the `metrics` recorder installed now.
    pub fn build(self) -> Result<Fault, ConfigError> {
        let (enabled, tuned) = self.check()?;
        Ok(Fault::from_shared(Shared::new(self.name, enabled, tuned)))
    }

    /// The checked switch and rates.
    pub(crate) fn check(&self) -> Result<(bool, Tuned), ConfigError> {
        let p = Primitive::Fault;
        let latency_rate = check::share(p, "latency", self.latency_rate)?;
        let abort = check::share(p, "abort_rate", self.abort_rate)?;
        let error = check::share(p, "error_rate", self.error_rate)?;
        let hang = check::share(p, "hang_rate", self.hang_rate)?;
        if abort + error + hang > 1.0 + 1e-9 {
            return Err(ConfigError::new(
                p,
                "hang_rate",
                format!(
                    "error, abort and hang rates add up to {}: at most 1, a call gets one of them at most",
                    abort + error + hang
                ),
            ));
        }
        let (min, max) = self.latency;
        check::ordered(p, "latency", min, "its maximum", max)?;
        if latency_rate > 0.0 {
            check::nonzero_duration(p, "latency", max)?;
        }
        Ok((
            self.enabled,
            Tuned::new(self.seed, [abort, error, hang], (latency_rate, min, max)),
        ))
    }
}
