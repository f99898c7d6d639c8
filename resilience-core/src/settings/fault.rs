//! The `fault` kind: [`FaultSettings`].

use std::time::Duration;

use super::kinds::{KeyError, Keys, pass_keys, settings};
use super::value::Value;
use crate::fault::{Fault, FaultBuilder};

settings! {
    /// A [`Fault`]'s settings (`[fault.<name>]`); each key is the [`FaultBuilder`]
    /// option of the same name, the latency's three numbers as three keys.
    ///
    /// `enabled` is the switch of a game day: a reload that sets it takes effect on the
    /// next call. `latency_rate` goes with `latency_max` (and `latency_min`, default 0).
    pub struct FaultSettings {
        /// Whether it injects (default false).
        enabled: bool,
        /// The seed of its draws; a new seed restarts the sequence.
        seed: u64,
        /// The share of calls delayed, in [0, 1].
        latency_rate: f64,
        /// The shortest injected delay (default 0).
        latency_min: Duration,
        /// The longest injected delay.
        latency_max: Duration,
        /// The share of calls given the error answer, in [0, 1].
        error_rate: f64,
        /// The share of calls aborted, in [0, 1].
        abort_rate: f64,
        /// The share of calls hung, in [0, 1].
        hang_rate: f64,
    }
}

impl FaultSettings {
    /// The builder these settings describe (before the builder's own validation, which
    /// names the latency's rate `latency`).
    pub(crate) fn builder(&self) -> Result<FaultBuilder, KeyError> {
        let mut b = Fault::builder();
        pass_keys!(self, b, enabled, seed, error_rate, abort_rate, hang_rate);
        let min = self.latency_min.unwrap_or_default();
        match (self.latency_rate, self.latency_max) {
            (None, None) if self.latency_min.is_some() => {
                return Err((
                    "latency_min",
                    "needs `latency_rate` and `latency_max`".into(),
                ));
            }
            (None, None) => {}
            (None, Some(_)) => {
                return Err(("latency_rate", "must be set with `latency_max`".into()));
            }
            (Some(_), None) => {
                return Err(("latency_max", "must be set with `latency_rate`".into()));
            }
            (Some(rate), Some(max)) => {
                if min > max {
                    return Err((
                        "latency_min",
                        format!("({min:?}) must not exceed `latency_max` ({max:?})"),
                    ));
                }
                if max.is_zero() {
                    return Err(("latency_max", "must be longer than zero".into()));
                }
                b = b.latency(rate, min, max);
            }
        }
        Ok(b)
    }
}

/// The document's key for a [`FaultBuilder`] option.
pub(crate) fn key(option: &'static str) -> &'static str {
    match option {
        "latency" => "latency_rate",
        option => option,
    }
}
