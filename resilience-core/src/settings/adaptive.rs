//! The `adaptive_bulkhead` kind: [`AdaptiveBulkheadSettings`] and the algorithm a document
//! chooses, [`AdaptiveAlgorithm`].

use std::time::Duration;

use super::kinds::{KeyError, Keys, pass_keys, settings};
use super::value::{self, Value};
use crate::ConfigError;
use crate::adaptive::{AdaptiveBulkhead, AdaptiveBulkheadBuilder, Aimd, Vegas};

/// The algorithm that moves an adaptive bulkhead's limit (the `algorithm` key).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum AdaptiveAlgorithm {
    /// `"aimd"`: [`Aimd`], with the keys `initial_limit`, `min_limit`, `max_limit`,
    /// `backoff_ratio` and `timeout`.
    Aimd,
    /// `"vegas"` (the default): [`Vegas`], with the keys `initial_limit`, `min_limit`,
    /// `max_limit`, `alpha`, `beta`, `smoothing` and `probe_multiplier`.
    #[default]
    Vegas,
}

impl AdaptiveAlgorithm {
    fn as_str(self) -> &'static str {
        match self {
            Self::Aimd => "aimd",
            Self::Vegas => "vegas",
        }
    }
}

value::words!(AdaptiveAlgorithm {
    "aimd" => AdaptiveAlgorithm::Aimd,
    "vegas" => AdaptiveAlgorithm::Vegas,
});

settings! {
    /// An [`AdaptiveBulkhead`]'s settings (`[adaptive_bulkhead.<name>]`); each key is
    /// the option of the same name on [`AdaptiveBulkheadBuilder`] or on the chosen
    /// algorithm's builder ([`AimdBuilder`](crate::adaptive::AimdBuilder),
    /// [`VegasBuilder`](crate::adaptive::VegasBuilder)).
    ///
    /// `algorithm` is `"vegas"` (the default) or `"aimd"`; a key of the other algorithm
    /// is refused. `initial_limit` sets where a new instance starts: a reload keeps the
    /// current limit (clamped into the new `min_limit`..`max_limit`).
    pub struct AdaptiveBulkheadSettings {
        /// `"aimd"` or `"vegas"`.
        algorithm: AdaptiveAlgorithm,
        /// The limit a new instance starts at.
        initial_limit: usize,
        /// The lowest the limit goes (at least 1).
        min_limit: usize,
        /// The highest the limit goes.
        max_limit: usize,
        /// AIMD: the limit is multiplied by this on a failure or a slow window, in [0.5, 1).
        backoff_ratio: f64,
        /// AIMD: a window slower than this on average backs off.
        timeout: Duration,
        /// Vegas: grow while the estimated queue is under `alpha × log10(limit)`.
        alpha: f64,
        /// Vegas: shrink once the estimated queue is over `beta × log10(limit)`.
        beta: f64,
        /// Vegas: how far each window moves the limit toward its target, in (0, 1].
        smoothing: f64,
        /// Vegas: probe for a new no-load latency every this many × limit windows.
        probe_multiplier: u32,
        /// The shortest a window of samples lasts.
        min_window: Duration,
        /// The longest a window of samples lasts.
        max_window: Duration,
        /// How many calls a window needs for the limit to move on it.
        window_samples: u32,
        /// How many callers may wait for a permit at the limit.
        max_waiting: usize,
        /// How long a queued caller waits.
        max_wait: Duration,
        /// The `retry_after` hint of a `BulkheadFull` error.
        retry_after: Duration,
    }
}

fn key_of(e: &ConfigError) -> KeyError {
    (e.option(), e.problem().to_owned())
}

impl AdaptiveBulkheadSettings {
    /// The builder these settings describe; the algorithm is built (and checked) here.
    pub(crate) fn builder(&self) -> Result<AdaptiveBulkheadBuilder, KeyError> {
        let algorithm = self.algorithm.unwrap_or_default();
        let foreign = match algorithm {
            AdaptiveAlgorithm::Aimd => [
                ("alpha", self.alpha.is_some()),
                ("beta", self.beta.is_some()),
                ("smoothing", self.smoothing.is_some()),
                ("probe_multiplier", self.probe_multiplier.is_some()),
            ],
            AdaptiveAlgorithm::Vegas => [
                ("backoff_ratio", self.backoff_ratio.is_some()),
                ("timeout", self.timeout.is_some()),
                ("", false),
                ("", false),
            ],
        };
        if let Some((key, _)) = foreign.into_iter().find(|(_, set)| *set) {
            let other = match algorithm {
                AdaptiveAlgorithm::Aimd => AdaptiveAlgorithm::Vegas,
                AdaptiveAlgorithm::Vegas => AdaptiveAlgorithm::Aimd,
            };
            return Err((
                key,
                format!(
                    "is an option of algorithm `{}`, and this one's is `{}`",
                    other.as_str(),
                    algorithm.as_str()
                ),
            ));
        }
        let mut b = AdaptiveBulkhead::builder();
        b = match algorithm {
            AdaptiveAlgorithm::Aimd => {
                let mut a = Aimd::builder();
                pass_keys!(
                    self,
                    a,
                    initial_limit,
                    min_limit,
                    max_limit,
                    backoff_ratio,
                    timeout
                );
                b.algorithm(a.build().map_err(|e| key_of(&e))?)
            }
            AdaptiveAlgorithm::Vegas => {
                let mut v = Vegas::builder();
                pass_keys!(
                    self,
                    v,
                    initial_limit,
                    min_limit,
                    max_limit,
                    alpha,
                    beta,
                    smoothing,
                    probe_multiplier
                );
                b.algorithm(v.build().map_err(|e| key_of(&e))?)
            }
        };
        pass_keys!(
            self,
            b,
            min_window,
            max_window,
            window_samples,
            max_waiting,
            max_wait,
            retry_after
        );
        Ok(b)
    }
}
