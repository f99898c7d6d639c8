//! [`AdaptiveBulkheadBuilder`]: the validated configuration of an [`AdaptiveBulkhead`].

use std::time::Duration;

use super::control::WindowConfig;
use super::{AdaptiveBulkhead, Control, LimitAlgorithm, Vegas, bounds};
use crate::bulkhead::{Bulkhead, BulkheadBuilder};
use crate::config::{ConfigError, check};
use crate::telemetry::{label, metric};
use crate::{Name, Primitive};

/// Builds an [`AdaptiveBulkhead`]; see [`AdaptiveBulkhead::builder`].
///
/// | option | default | anchor |
/// |---|---|---|
/// | [`name`](Self::name) | `"default"` | as [`BulkheadBuilder::name`] |
/// | [`algorithm`](Self::algorithm) | [`Vegas`] with its defaults | Netflix concurrency-limits' default limit |
/// | [`min_window`](Self::min_window) | 1 s | Netflix `WindowedLimit` `minWindowTime` |
/// | [`max_window`](Self::max_window) | 1 s | Netflix `WindowedLimit` `maxWindowTime` |
/// | [`window_samples`](Self::window_samples) | 10 | Netflix `WindowedLimit` `windowSize` |
/// | [`max_waiting`](Self::max_waiting), [`max_wait`](Self::max_wait) | 0: no queue | as [`BulkheadBuilder`] |
/// | [`retry_after`](Self::retry_after) | 1 s | as [`BulkheadBuilder`] |
///
/// A window lasts twice the shortest latency it saw, within `[min_window, max_window]`,
/// and until it holds `window_samples` calls: where Netflix drops a window with fewer
/// calls, this one goes on, so a dependency that slows down to a few calls a window still
/// moves the limit.
///
/// [`build`](Self::build) returns a [`ConfigError`] for what [`BulkheadBuilder::build`]
/// refuses, an algorithm whose limits are out of order or above
/// [`MAX_PERMITS`](crate::bulkhead::MAX_PERMITS), a zero or inverted window and zero
/// `window_samples`.
#[derive(Debug)]
#[must_use = "a builder does nothing until `build` is called"]
pub struct AdaptiveBulkheadBuilder {
    bulkhead: BulkheadBuilder,
    algorithm: Option<Box<dyn LimitAlgorithm>>,
    min_window: Duration,
    max_window: Duration,
    window_samples: u32,
}

impl Default for AdaptiveBulkheadBuilder {
    fn default() -> Self {
        Self {
            bulkhead: Bulkhead::builder(),
            algorithm: None,
            min_window: Duration::from_secs(1),
            max_window: Duration::from_secs(1),
            window_samples: 10,
        }
    }
}

impl AdaptiveBulkheadBuilder {
    /// The instance name: the `name` label of its metrics and the instance in its errors.
    /// Keep it from configuration, never from request data.
    pub fn name(mut self, name: impl Into<Name>) -> Self {
        self.bulkhead = self.bulkhead.name(name);
        self
    }

    /// The algorithm that moves the limit, with its bounds and initial limit: [`Aimd`](super::Aimd),
    /// [`Vegas`] or one of your own.
    pub fn algorithm(mut self, algorithm: impl LimitAlgorithm) -> Self {
        self.algorithm = Some(Box::new(algorithm));
        self
    }

    /// The shortest a window of samples lasts.
    pub fn min_window(mut self, window: Duration) -> Self {
        self.min_window = window;
        self
    }

    /// The longest a window of samples lasts.
    pub fn max_window(mut self, window: Duration) -> Self {
        self.max_window = window;
        self
    }

    /// How many calls a window needs for the limit to move on it (at least 1).
    pub fn window_samples(mut self, samples: u32) -> Self {
        self.window_samples = samples;
        self
    }

    /// How many callers may wait for a permit when the limit is reached; see
    /// [`BulkheadBuilder::max_waiting`].
    pub fn max_waiting(mut self, max_waiting: usize) -> Self {
        self.bulkhead = self.bulkhead.max_waiting(max_waiting);
        self
    }

    /// How long a queued caller waits; see [`BulkheadBuilder::max_wait`].
    pub fn max_wait(mut self, max_wait: Duration) -> Self {
        self.bulkhead = self.bulkhead.max_wait(max_wait);
        self
    }

    /// The hint every `BulkheadFull` carries; see [`BulkheadBuilder::retry_after`].
    pub fn retry_after(mut self, hint: Duration) -> Self {
        self.bulkhead = self.bulkhead.retry_after(hint);
        self
    }

    /// Validates the options and builds the adaptive bulkhead, resolving its metric
    /// handles against the `metrics` recorder installed now.
    pub fn build(self) -> Result<AdaptiveBulkhead, ConfigError> {
        let (bulkhead, algorithm, windows) = self.check()?;
        let labels = [(label::NAME, bulkhead.name.to_shared_string())];
        let control = Control::new(
            bulkhead.name.clone(),
            algorithm,
            windows,
            metrics::gauge!(metric::CONCURRENCY_LIMIT, &labels),
        );
        Ok(AdaptiveBulkhead::from_bulkhead(Bulkhead::with_control(
            bulkhead,
            Some(control),
        )))
    }

    /// The checked options: the bulkhead's (its cap at the algorithm's initial limit),
    /// the algorithm and the window.
    pub(crate) fn check(
        self,
    ) -> Result<(BulkheadBuilder, Box<dyn LimitAlgorithm>, WindowConfig), ConfigError> {
        let p = Primitive::Bulkhead;
        let algorithm = match self.algorithm {
            Some(algorithm) => algorithm,
            None => Box::new(Vegas::builder().build()?),
        };
        bounds(
            algorithm.limit(),
            algorithm.min_limit(),
            algorithm.max_limit(),
        )?;
        check::nonzero_duration(p, "min_window", self.min_window)?;
        check::ordered(
            p,
            "min_window",
            self.min_window,
            "max_window",
            self.max_window,
        )?;
        check::nonzero(p, "window_samples", self.window_samples)?;
        let bulkhead = self.bulkhead.max_concurrent(algorithm.limit());
        bulkhead.check()?;
        let windows = WindowConfig {
            min_window: self.min_window,
            max_window: self.max_window,
            min_samples: self.window_samples,
        };
        Ok((bulkhead, algorithm, windows))
    }
}
