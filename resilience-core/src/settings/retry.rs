//! The `retry` and `deadline` kinds: [`RetrySettings`] and [`DeadlineSettings`], and the
//! values only they hold (a backoff's curve, a jitter); the budget is a [`HedgeBudget`],
//! written as a hedge's.

use std::time::Duration;

use super::HedgeBudget;
use super::kinds::{KeyError, Keys, pass_keys, settings};
use super::value::{self, Value};
use crate::deadline::{DeadlinePolicy, DeadlinePolicyBuilder};
use crate::retry::{Backoff, Jitter, RetryPolicy, RetryPolicyBuilder};

settings! {
    /// A [`RetryPolicy`]'s settings (`[retry.<name>]`); each key is the
    /// [`RetryPolicyBuilder`] option of the same name, but the curve, which is spread
    /// over `backoff`, `base`, `step` and `factor`.
    ///
    /// ```toml
    /// [retry.payments]
    /// max_attempts = 4
    /// backoff = "exponential"   # or "constant", "linear"
    /// base = "50ms"             # the first delay
    /// factor = 3.0              # exponential only (default 2)
    /// max_delay = "2s"
    /// jitter = "full"           # or "none", "equal", "decorrelated"
    /// attempt_timeout = "300ms"
    /// max_elapsed = "5s"
    /// max_retry_after = "10s"
    /// budget = "payments"       # a `[retry_budget.payments]`; or "own" (default), "none"
    /// ```
    pub struct RetrySettings {
        /// Attempts per call, the first included (at least 1).
        max_attempts: u32,
        /// The delay curve: `"constant"`, `"linear"` or `"exponential"` (the default).
        backoff: BackoffCurve,
        /// The first delay (every delay, for `"constant"`); default 100 ms.
        base: Duration,
        /// What each retry adds to the delay, for `"linear"` only; default `base`.
        step: Duration,
        /// What each retry multiplies the delay by, for `"exponential"` only (finite, at
        /// least 1); default 2.
        factor: f64,
        /// The longest delay (at least `base`).
        max_delay: Duration,
        /// `"none"`, `"full"`, `"equal"` or `"decorrelated"`.
        jitter: Jitter,
        /// A timeout for each attempt.
        attempt_timeout: Duration,
        /// A time budget for the whole call, retries and delays included.
        max_elapsed: Duration,
        /// The longest server hint the policy waits for.
        max_retry_after: Duration,
        /// The retry budget, as a hedge's: `"own"` (the policy's own, the default),
        /// `"none"` (or `false`), or the name of a `[retry_budget.<name>]` (in the
        /// document or already in the registry).
        budget: HedgeBudget,
    }
}

settings! {
    /// A [`DeadlinePolicy`]'s settings (`[deadline.<name>]`); each key is the
    /// [`DeadlinePolicyBuilder`] option of the same name.
    pub struct DeadlineSettings {
        /// The time a call gets when its caller set no deadline.
        default_timeout: Duration,
        /// The longest time a caller may ask for; longer asks are cut to this.
        max: Duration,
    }
}

/// The curve of a [`RetrySettings`]' `backoff` key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum BackoffCurve {
    /// `"constant"`: `base` before every retry ([`Backoff::Constant`]).
    Constant,
    /// `"linear"`: `base`, then `step` more per retry ([`Backoff::Linear`]).
    Linear,
    /// `"exponential"`: `base`, then times `factor` per retry ([`Backoff::Exponential`]).
    Exponential,
}

value::words!(BackoffCurve {
    "constant" => BackoffCurve::Constant,
    "linear" => BackoffCurve::Linear,
    "exponential" => BackoffCurve::Exponential,
});

value::words!(Jitter {
    "none" => Jitter::None,
    "full" => Jitter::Full,
    "equal" => Jitter::Equal,
    "decorrelated" => Jitter::Decorrelated,
});

impl RetrySettings {
    /// The builder these settings describe, but a named budget (see
    /// [`budget_name`](Self::budget_name)), which the registry resolves.
    pub(crate) fn builder(&self) -> Result<RetryPolicyBuilder, KeyError> {
        let mut b = RetryPolicy::builder();
        let curve = self.backoff.unwrap_or(BackoffCurve::Exponential);
        if curve != BackoffCurve::Linear && self.step.is_some() {
            return Err(("step", "applies to `backoff = \"linear\"` only".into()));
        }
        if curve != BackoffCurve::Exponential && self.factor.is_some() {
            return Err((
                "factor",
                "applies to `backoff = \"exponential\"` only".into(),
            ));
        }
        if self.backoff.is_some()
            || self.base.is_some()
            || self.step.is_some()
            || self.factor.is_some()
        {
            let base = self.base.unwrap_or(Duration::from_millis(100));
            b = b.backoff(match curve {
                BackoffCurve::Constant => Backoff::constant(base),
                BackoffCurve::Linear => Backoff::linear(base, self.step.unwrap_or(base)),
                BackoffCurve::Exponential => {
                    Backoff::exponential_with_factor(base, self.factor.unwrap_or(2.0))
                }
            });
        }
        if self.budget == Some(HedgeBudget::Off) {
            b = b.no_budget();
        }
        pass_keys!(
            self,
            b,
            max_attempts,
            max_delay,
            jitter,
            attempt_timeout,
            max_elapsed,
            max_retry_after
        );
        Ok(b)
    }

    /// The budget these settings name, if a named one.
    pub(crate) fn budget_name(&self) -> Option<&str> {
        self.budget.as_ref()?.name()
    }
}

impl DeadlineSettings {
    /// The builder these settings describe.
    pub(crate) fn builder(&self) -> DeadlinePolicyBuilder {
        let mut b = DeadlinePolicy::builder();
        pass_keys!(self, b, default_timeout, max);
        b
    }
}
