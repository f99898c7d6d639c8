//! `hedge(...)`: the policy the attribute's options describe, built on a function's first
//! call.

use std::time::Duration;

use crate::hedge::Hedge;
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
    builder
        .build()
        .map_err(|err| super::instances::config_error(err, Primitive::Hedge, spec.name))
}
