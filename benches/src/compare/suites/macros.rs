//! Retrying an async function, first attempt succeeds: what `#[resilient(retry(...))]`
//! costs against backon's `Retryable::retry` of the same closure.
//!
//! The attribute's retry option expands to a call of [`RetryPolicy::run_typed`] with the
//! function body as the closure, so that is what is measured here (`macro/*` rows): the
//! same policy as the retry layer (3 attempts, exponential from 100 ms, full jitter), with
//! our default budget, and without one (backon has no budget). backon: exponential from
//! 100 ms, 2 retries, jitter, tokio sleeper.

use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use resilience_core::Error;
use resilience_core::retry::{Backoff, RetryPolicy};

use super::number;
use crate::compare::{Comparison, Entry};

/// The function body both contenders retry.
async fn body() -> Result<u64, Error> {
    Ok(number())
}

fn backon() -> Entry {
    let builder = ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(100))
        .with_max_times(2)
        .with_jitter();
    Entry::future("backon", move || async move || body.retry(builder).await)
}

fn ours(name: &'static str, policy: RetryPolicy) -> Entry {
    Entry::future(name, move || {
        let policy = policy.clone();
        async move || policy.run_typed(body).await
    })
}

pub(super) fn comparisons() -> Vec<Comparison> {
    let policy = RetryPolicy::builder()
        .name("compare")
        .max_attempts(3)
        .backoff(Backoff::exponential(Duration::from_millis(100)));
    let with_budget = policy.clone().build().expect("a valid policy");
    let no_budget = policy.no_budget().build().expect("a valid policy");
    vec![
        Comparison::new("macro/retry_fn")
            .ours(ours("resilience run_typed", with_budget))
            .peer(backon()),
        Comparison::new("macro/retry_fn_no_budget")
            .ours(ours("resilience run_typed", no_budget))
            .peer(backon()),
    ]
}
