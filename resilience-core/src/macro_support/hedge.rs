//! `hedge(...)`: the policy the attribute's options describe, built on a function's first
//! call.

use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use crate::hedge::{Hedge, HedgeBuilder};
use crate::retry::{RetryBudget, RetryPolicy};
use crate::{Error, Primitive};

/// The options of `hedge(...)`; `None` keeps the policy's default.
#[derive(Debug)]
pub struct HedgeSpec {
    /// The operation name, which names the policy.
    pub name: &'static str,
    /// `delay`.
    pub delay: Option<Duration>,
    /// `percentile`.
    pub percentile: Option<f64>,
    /// `max`.
    pub max: Option<u32>,
}

/// Builds the hedging policy of one function. `budget`: a budget named by
/// `budget = ...`; else, with `retry`, the retry policy's budget (which that policy
/// already deposits every call in); else the policy's own.
pub fn hedge_policy(
    spec: HedgeSpec,
    budget: Option<Result<&RetryBudget, Error>>,
    retry: Option<&RetryPolicy>,
) -> Result<Hedge, Error> {
    let name = spec.name;
    builder(spec, budget, retry)?
        .build()
        .map_err(|err| super::instances::config_error(err, Primitive::Hedge, name))
}

/// Keeps `hedge` (built by [`hedge_policy`] from `spec` with `retry` and no budget of its
/// own) on the budget `retry` has now: a retry policy from the registry may be
/// reconfigured to another budget, or none, after the hedge was built. One atomic load
/// per call while the retry policy is unchanged since `seen` was last set.
pub fn follow_retry_budget(
    hedge: &Hedge,
    retry: &RetryPolicy,
    seen: &AtomicU64,
    spec: impl FnOnce() -> HedgeSpec,
) {
    let generation = retry.generation();
    if seen.load(Relaxed) == generation {
        return;
    }
    if let Ok(builder) = builder(spec(), None, Some(retry)) {
        // The same options as when the hedge was built, which were valid then.
        let _ = hedge.reconfigure(builder);
    }
    seen.store(generation, Relaxed);
}

fn builder(
    spec: HedgeSpec,
    budget: Option<Result<&RetryBudget, Error>>,
    retry: Option<&RetryPolicy>,
) -> Result<HedgeBuilder, Error> {
    let mut builder = Hedge::builder().name(spec.name);
    if let Some(delay) = spec.delay {
        builder = builder.delay(delay);
    }
    if let Some(percentile) = spec.percentile {
        builder = builder.percentile(percentile);
    }
    if let Some(max) = spec.max {
        builder = builder.max_hedges(max);
    }
    builder = match (budget, retry) {
        (Some(budget), _) => builder.budget(budget?.clone()),
        (None, Some(retry)) => match retry.budget() {
            Some(budget) => builder.budget(budget).deposit(false),
            None => builder.no_budget(),
        },
        (None, None) => builder,
    };
    Ok(builder)
}
