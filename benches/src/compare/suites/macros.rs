//! Async functions, first attempt succeeds.
//!
//! `macro/*` rows time a real `#[resilient(...)]` function (what the attribute expands to,
//! as a user gets it) against the same function composed by hand from the core API, and,
//! for retry, against backon's `Retryable::retry` of the same body: 3 attempts,
//! exponential from 100 ms, jitter; ours with the policy's own budget (backon has none).
//! `macro/full_stack` adds a deadline, an attempt timeout, a breaker and a bulkhead (no
//! peer does all of it). The functions are in `resilience_benches::macros`.
//!
//! `retry/fn*` rows time [`RetryPolicy::run_typed`] itself, with and without a budget,
//! against backon.

use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use resilience_core::Error;
use resilience_core::retry::{Backoff, RetryPolicy};

use super::number;
use crate::compare::{Comparison, Entry};
use crate::macros;

fn backon() -> Entry {
    Entry::future("backon", || async || macros::backon_retry(number()).await)
}

fn run_typed(policy: RetryPolicy) -> Entry {
    Entry::future("resilience run_typed", move || {
        let policy = policy.clone();
        async move || policy.run_typed(body).await
    })
}

/// The body `run_typed` and backon retry in the `retry/fn*` rows.
async fn body() -> Result<u64, Error> {
    Ok(number())
}

fn backon_body() -> Entry {
    let builder = ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(100))
        .with_max_times(2)
        .with_jitter();
    Entry::future("backon", move || async move || body.retry(builder).await)
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
            .zero_alloc()
            .ours(Entry::future("#[resilient] retry", || {
                async || macros::with_retry(number()).await
            }))
            .peer(Entry::future("hand-composed", || {
                async || macros::hand_composed_retry(number()).await
            }))
            .peer(backon()),
        Comparison::new("macro/full_stack")
            .zero_alloc()
            .ours(Entry::future("#[resilient] full stack", || {
                async || macros::full_stack(number()).await
            }))
            .peer(Entry::future("hand-composed", || {
                async || macros::hand_composed_full_stack(number()).await
            })),
        Comparison::new("retry/fn")
            .ours(run_typed(with_budget))
            .peer(backon_body()),
        Comparison::new("retry/fn_no_budget")
            .ours(run_typed(no_budget))
            .peer(backon_body()),
    ]
}
