//! `retry(...)`: the policy the attribute's options describe, built on a function's first
//! call.

use std::time::Duration;

use crate::retry::{Backoff, Jitter, RetryBudget, RetryPolicy};
use crate::{Error, Primitive};

/// The delay curve named by `backoff = "..."`.
#[derive(Clone, Copy, Debug)]
pub enum BackoffKind {
    /// `"constant"`: `base` before every retry.
    Constant,
    /// `"linear"`: `base`, `2 * base`, `3 * base`, ...
    Linear,
    /// `"exponential"`: `base`, `2 * base`, `4 * base`, ...
    Exponential,
}

/// The options of `retry(...)`; `None` keeps the policy's default.
#[derive(Debug)]
pub struct RetrySpec {
    /// The operation name, which names the policy (metric label, error context).
    pub name: &'static str,
    /// `attempts`.
    pub attempts: Option<u32>,
    /// `backoff`.
    pub backoff: Option<BackoffKind>,
    /// `base`.
    pub base: Option<Duration>,
    /// `max`.
    pub max: Option<Duration>,
    /// `jitter`.
    pub jitter: Option<Jitter>,
}

/// The default first delay of [`RetryPolicy`] (exponential from 100 ms).
const DEFAULT_BASE: Duration = Duration::from_millis(100);
/// The default cap of [`RetryPolicy`]'s delays.
const DEFAULT_MAX: Duration = Duration::from_secs(10);

/// Builds the policy of one function. `budget`: a shared budget (`budget = ...`), else the
/// policy's own.
pub fn retry_policy(
    spec: RetrySpec,
    budget: Option<Result<&RetryBudget, Error>>,
) -> Result<RetryPolicy, Error> {
    let mut builder = RetryPolicy::builder().name(spec.name);
    if let Some(attempts) = spec.attempts {
        builder = builder.max_attempts(attempts);
    }
    if spec.backoff.is_some() || spec.base.is_some() {
        let base = spec.base.unwrap_or(DEFAULT_BASE);
        builder = builder.backoff(match spec.backoff.unwrap_or(BackoffKind::Exponential) {
            BackoffKind::Constant => Backoff::constant(base),
            BackoffKind::Linear => Backoff::linear(base, base),
            BackoffKind::Exponential => Backoff::exponential(base),
        });
        // A first delay above the default cap raises the cap rather than failing.
        if spec.max.is_none() && base > DEFAULT_MAX {
            builder = builder.max_delay(base);
        }
    }
    if let Some(max) = spec.max {
        builder = builder.max_delay(max);
    }
    if let Some(jitter) = spec.jitter {
        builder = builder.jitter(jitter);
    }
    if let Some(budget) = budget {
        builder = builder.budget(budget?.clone());
    }
    builder
        .build()
        .map_err(|err| super::instances::config_error(err, Primitive::Retry, spec.name))
}
