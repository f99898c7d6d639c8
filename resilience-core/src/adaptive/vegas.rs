//! [`Vegas`]: a limit that follows the queue latency reveals, as TCP Vegas.

use std::time::Duration;

use super::algorithm::log10_root;
use super::{LimitAlgorithm, Sample, bounds};
use crate::config::{ConfigError, check};
use crate::{Primitive, rng};

/// Delay-based: estimates how many calls are queueing at the dependency from how much
/// slower calls are than the fastest seen (`queue = limit × (1 − rtt_noload / rtt)`) and
/// keeps that queue small: grows while it is under `alpha·log10(limit)`, shrinks once it
/// is over `beta·log10(limit)` or a call fails. As TCP Vegas, and Netflix
/// concurrency-limits' `VegasLimit` (its default algorithm), whose formulas and defaults
/// these are.
///
/// The no-load latency is the shortest window average seen, probed afresh every
/// `probe_multiplier × limit` windows (jittered) so that it follows a dependency that got
/// slower for good. Start below the capacity you expect (the initial limit, 20 by default):
/// the first windows teach it what unloaded latency looks like.
///
/// ```
/// use std::time::Duration;
/// use resilience_core::adaptive::{LimitAlgorithm, Sample, Vegas};
///
/// let mut vegas = Vegas::builder().initial_limit(20).build().unwrap();
/// let ms = Duration::from_millis;
/// vegas.update(&Sample::new(ms(10), 20, false)); // learns the no-load latency
/// // As fast as that, fully used: no queue, so it grows by beta·log10(20) = 6.
/// assert_eq!(vegas.update(&Sample::new(ms(10), 20, false)), 26);
/// // Twice as slow: half the calls are queueing (13 > 6): it shrinks by log10(26) = 1.
/// assert_eq!(vegas.update(&Sample::new(ms(20), 26, false)), 25);
/// ```
#[derive(Clone, Debug)]
pub struct Vegas {
    estimate: f64,
    min_limit: usize,
    max_limit: usize,
    smoothing: f64,
    alpha: f64,
    beta: f64,
    probe_multiplier: u32,
    /// Nanoseconds; 0 until the first sample.
    rtt_noload: f64,
    probe_count: u64,
    probe_jitter: f64,
    rng: u64,
}

impl Vegas {
    /// A builder with the defaults of Netflix concurrency-limits' `VegasLimit`.
    pub fn builder() -> VegasBuilder {
        VegasBuilder::default()
    }

    /// The no-load latency it measures queueing against, once it has one.
    pub fn rtt_noload(&self) -> Option<Duration> {
        (self.rtt_noload > 0.0).then(|| Duration::from_nanos(self.rtt_noload as u64))
    }

    /// A jitter in `[0.5, 1)` for the next probe (splitmix64: deterministic, no `rand`).
    fn next_jitter(&mut self) -> f64 {
        self.rng = self.rng.wrapping_add(rng::GAMMA);
        0.5 + rng::unit(self.rng) / 2.0
    }
}

impl LimitAlgorithm for Vegas {
    fn name(&self) -> &'static str {
        "vegas"
    }

    fn limit(&self) -> usize {
        self.estimate as usize
    }

    fn min_limit(&self) -> usize {
        self.min_limit
    }

    fn max_limit(&self) -> usize {
        self.max_limit
    }

    fn set_limit(&mut self, limit: usize) {
        self.estimate = limit.clamp(self.min_limit, self.max_limit) as f64;
    }

    fn update(&mut self, sample: &Sample) -> usize {
        let rtt = (sample.rtt.as_nanos() as f64).max(1.0);
        self.probe_count += 1;
        if self.probe_jitter * f64::from(self.probe_multiplier) * self.estimate
            <= self.probe_count as f64
        {
            // Forget the old no-load latency: the dependency may have changed for good.
            self.probe_jitter = self.next_jitter();
            self.probe_count = 0;
            self.rtt_noload = rtt;
            return self.limit();
        }
        if self.rtt_noload == 0.0 || rtt < self.rtt_noload {
            self.rtt_noload = rtt;
            return self.limit();
        }
        let queue = (self.estimate * (1.0 - self.rtt_noload / rtt)).ceil();
        let step = log10_root(self.estimate.floor());
        let target = if sample.dropped {
            self.estimate - step
        } else if (sample.in_flight as f64) * 2.0 < self.estimate {
            // Not close to the limit: no evidence either way.
            return self.limit();
        } else if queue <= step {
            // No queueing: grow fast.
            self.estimate + self.beta * step
        } else if queue < self.alpha * step {
            self.estimate + step
        } else if queue > self.beta * step {
            self.estimate - step
        } else {
            return self.limit();
        };
        let target = target.clamp(self.min_limit as f64, self.max_limit as f64);
        // Clamped again: the weighted sum of two values within the bounds can round to
        // just below the floor (53 × 0.7 + 53 × 0.3 = 52.999…).
        self.estimate = ((1.0 - self.smoothing) * self.estimate + self.smoothing * target)
            .clamp(self.min_limit as f64, self.max_limit as f64);
        self.limit()
    }
}

/// Builds a [`Vegas`]; see [`Vegas::builder`].
///
/// | option | default | anchor |
/// |---|---|---|
/// | [`initial_limit`](Self::initial_limit) | 20 | Netflix `VegasLimit` `initialLimit` |
/// | [`min_limit`](Self::min_limit) | 1 | Netflix `VegasLimit` (its floor) |
/// | [`max_limit`](Self::max_limit) | 1000 | Netflix `VegasLimit` `maxConcurrency` |
/// | [`alpha`](Self::alpha) | 3 (× log10 limit) | Netflix `VegasLimit` `alpha` |
/// | [`beta`](Self::beta) | 6 (× log10 limit) | Netflix `VegasLimit` `beta` |
/// | [`smoothing`](Self::smoothing) | 1.0 (none) | Netflix `VegasLimit` `smoothing` |
/// | [`probe_multiplier`](Self::probe_multiplier) | 30 | Netflix `VegasLimit` `probeMultiplier` |
///
/// [`build`](Self::build) returns a [`ConfigError`] for a zero or inverted bound, an
/// initial limit outside `[min_limit, max_limit]`, an `alpha` that is not positive or
/// not below `beta`, a smoothing outside `(0, 1]` and a zero probe multiplier.
#[derive(Clone, Debug)]
#[must_use = "a builder does nothing until `build` is called"]
pub struct VegasBuilder {
    initial_limit: usize,
    min_limit: usize,
    max_limit: usize,
    alpha: f64,
    beta: f64,
    smoothing: f64,
    probe_multiplier: u32,
}

impl Default for VegasBuilder {
    fn default() -> Self {
        Self {
            initial_limit: 20,
            min_limit: 1,
            max_limit: 1000,
            alpha: 3.0,
            beta: 6.0,
            smoothing: 1.0,
            probe_multiplier: 30,
        }
    }
}

impl VegasBuilder {
    /// The limit before any sample. Start below the capacity you expect.
    pub fn initial_limit(mut self, limit: usize) -> Self {
        self.initial_limit = limit;
        self
    }

    /// The lowest the limit goes (at least 1).
    pub fn min_limit(mut self, limit: usize) -> Self {
        self.min_limit = limit;
        self
    }

    /// The highest the limit goes.
    pub fn max_limit(mut self, limit: usize) -> Self {
        self.max_limit = limit;
        self
    }

    /// Grow by `log10(limit)` while the estimated queue is under `alpha × log10(limit)`.
    pub fn alpha(mut self, alpha: f64) -> Self {
        self.alpha = alpha;
        self
    }

    /// Shrink by `log10(limit)` once the estimated queue is over `beta × log10(limit)`
    /// (and grow by `beta × log10(limit)` while there is no queue at all).
    pub fn beta(mut self, beta: f64) -> Self {
        self.beta = beta;
        self
    }

    /// How far each window moves the limit toward its target, in `(0, 1]`: 1 takes the
    /// target as it is.
    pub fn smoothing(mut self, smoothing: f64) -> Self {
        self.smoothing = smoothing;
        self
    }

    /// Probe for a new no-load latency every `probe_multiplier × limit` windows (times a
    /// jitter in `[0.5, 1)`).
    pub fn probe_multiplier(mut self, multiplier: u32) -> Self {
        self.probe_multiplier = multiplier;
        self
    }

    /// Validates the options.
    pub fn build(self) -> Result<Vegas, ConfigError> {
        let p = Primitive::Bulkhead;
        bounds(self.initial_limit, self.min_limit, self.max_limit)?;
        if !(self.alpha.is_finite() && self.alpha > 0.0) {
            return Err(ConfigError::new(
                p,
                "alpha",
                format!("must be a finite number above 0, got {}", self.alpha),
            ));
        }
        if !(self.beta.is_finite() && self.beta > self.alpha) {
            return Err(ConfigError::new(
                p,
                "beta",
                format!(
                    "({}) must be a finite number above `alpha` ({})",
                    self.beta, self.alpha
                ),
            ));
        }
        check::ratio(p, "smoothing", self.smoothing)?;
        check::nonzero(p, "probe_multiplier", self.probe_multiplier)?;
        let mut vegas = Vegas {
            estimate: self.initial_limit as f64,
            min_limit: self.min_limit,
            max_limit: self.max_limit,
            smoothing: self.smoothing,
            alpha: self.alpha,
            beta: self.beta,
            probe_multiplier: self.probe_multiplier,
            rtt_noload: 0.0,
            probe_count: 0,
            probe_jitter: 1.0,
            rng: 0x5EED,
        };
        vegas.probe_jitter = vegas.next_jitter();
        Ok(vegas)
    }
}
