//! [`Aimd`]: additive increase, multiplicative decrease.

use std::time::Duration;

use super::{LimitAlgorithm, Sample, bounds};
use crate::Primitive;
use crate::config::{ConfigError, check};

/// Loss-based: one more slot per window while calls succeed and the limit is in use,
/// `× backoff_ratio` when a call fails or the window's latency passes `timeout`. As TCP
/// congestion control (and Netflix concurrency-limits' `AIMDLimit`).
///
/// It reacts to failures (a `503`, a timeout) and to latency past a fixed line, not to
/// latency that creeps up below it: set [`timeout`](AimdBuilder::timeout) a little above
/// the latency the dependency has when healthy. For a limit that follows latency itself,
/// use [`Vegas`](super::Vegas).
///
/// ```
/// use std::time::Duration;
/// use resilience_core::adaptive::{Aimd, LimitAlgorithm, Sample};
///
/// let mut aimd = Aimd::builder()
///     .initial_limit(10)
///     .min_limit(2)
///     .max_limit(50)
///     .timeout(Duration::from_millis(100))
///     .build()
///     .unwrap();
/// let fast = Sample::new(Duration::from_millis(20), 10, false);
/// assert_eq!(aimd.update(&fast), 11);
/// let slow = Sample::new(Duration::from_millis(150), 11, false);
/// assert_eq!(aimd.update(&slow), 9); // ⌊11 × 0.9⌋
/// ```
#[derive(Clone, Debug)]
pub struct Aimd {
    limit: usize,
    min_limit: usize,
    max_limit: usize,
    backoff_ratio: f64,
    timeout: Duration,
}

impl Aimd {
    /// A builder with the defaults of Netflix concurrency-limits' `AIMDLimit`.
    pub fn builder() -> AimdBuilder {
        AimdBuilder::default()
    }
}

impl LimitAlgorithm for Aimd {
    fn name(&self) -> &'static str {
        "aimd"
    }

    fn limit(&self) -> usize {
        self.limit
    }

    fn min_limit(&self) -> usize {
        self.min_limit
    }

    fn max_limit(&self) -> usize {
        self.max_limit
    }

    fn update(&mut self, sample: &Sample) -> usize {
        let limit = if sample.dropped || sample.rtt > self.timeout {
            // Truncated, as Netflix does; below at least by one.
            ((self.limit as f64 * self.backoff_ratio) as usize).min(self.limit - 1)
        } else if sample.in_flight.saturating_mul(2) >= self.limit {
            self.limit + 1
        } else {
            // Less than half the limit in use: the caller, not the dependency, is the
            // bottleneck, and growing would only loosen the limit unseen.
            self.limit
        };
        self.limit = limit.clamp(self.min_limit, self.max_limit);
        self.limit
    }

    fn set_limit(&mut self, limit: usize) {
        self.limit = limit.clamp(self.min_limit, self.max_limit);
    }
}

/// Builds an [`Aimd`]; see [`Aimd::builder`].
///
/// | option | default | anchor |
/// |---|---|---|
/// | [`initial_limit`](Self::initial_limit) | 20 | Netflix `AIMDLimit` `initialLimit` |
/// | [`min_limit`](Self::min_limit) | 20 | Netflix `AIMDLimit` `minLimit` |
/// | [`max_limit`](Self::max_limit) | 200 | Netflix `AIMDLimit` `maxLimit` |
/// | [`backoff_ratio`](Self::backoff_ratio) | 0.9 | Netflix `AIMDLimit` `backoffRatio` |
/// | [`timeout`](Self::timeout) | 5 s | Netflix `AIMDLimit` `timeout` |
///
/// [`build`](Self::build) returns a [`ConfigError`] for a zero or inverted bound, an
/// initial limit outside `[min_limit, max_limit]`, a ratio outside `[0.5, 1)` (Netflix's
/// range) and a zero timeout.
#[derive(Clone, Debug)]
#[must_use = "a builder does nothing until `build` is called"]
pub struct AimdBuilder {
    initial_limit: usize,
    min_limit: usize,
    max_limit: usize,
    backoff_ratio: f64,
    timeout: Duration,
}

impl Default for AimdBuilder {
    fn default() -> Self {
        Self {
            initial_limit: 20,
            min_limit: 20,
            max_limit: 200,
            backoff_ratio: 0.9,
            timeout: Duration::from_secs(5),
        }
    }
}

impl AimdBuilder {
    /// The limit before any sample.
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

    /// What the limit is multiplied by when a window saw a failure or was too slow, in
    /// `[0.5, 1)`.
    pub fn backoff_ratio(mut self, ratio: f64) -> Self {
        self.backoff_ratio = ratio;
        self
    }

    /// A window whose average latency is longer than this counts as a failure.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Validates the options.
    pub fn build(self) -> Result<Aimd, ConfigError> {
        let p = Primitive::Bulkhead;
        bounds(self.initial_limit, self.min_limit, self.max_limit)?;
        if !(self.backoff_ratio >= 0.5 && self.backoff_ratio < 1.0) {
            return Err(ConfigError::new(
                p,
                "backoff_ratio",
                format!("must be in [0.5, 1), got {}", self.backoff_ratio),
            ));
        }
        check::nonzero_duration(p, "timeout", self.timeout)?;
        Ok(Aimd {
            limit: self.initial_limit,
            min_limit: self.min_limit,
            max_limit: self.max_limit,
            backoff_ratio: self.backoff_ratio,
            timeout: self.timeout,
        })
    }
}
