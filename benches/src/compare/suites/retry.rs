//! Retry, first attempt succeeds: the cost of being ready to retry.
//!
//! Same job: at most 3 attempts, exponential backoff from 100 ms, and a retry budget:
//! ours its default (10 s window, 10 retries/s floor, 20% of calls), tower's `Retry` with
//! a `TpsBudget` of the same shape (the policy tower documents), tower-resilience's retry
//! with its token-bucket budget (10 tokens/s, 100 max). A success deposits in ours and in
//! tower's; tower-resilience's token bucket refills by time.

use std::convert::Infallible;
use std::time::Duration;

use resilience_core::retry::{Backoff, RetryPolicy};
use resilience_tower::retry::RetryLayer;
use tower::Layer;

use super::{Echo, number};
use crate::compare::{Comparison, Entry};
use crate::peers::TowerBudgetPolicy;

/// Attempts in all, the first included.
const ATTEMPTS: u32 = 3;

pub(super) fn policy() -> RetryPolicy {
    RetryPolicy::builder()
        .name("compare")
        .max_attempts(ATTEMPTS)
        .backoff(Backoff::exponential(Duration::from_millis(100)))
        .build()
        .expect("a valid policy")
}

pub(super) fn comparisons() -> Vec<Comparison> {
    let tower_policy = TowerBudgetPolicy::new(ATTEMPTS - 1);
    let budget = tower_resilience::retry::RetryBudgetBuilder::new()
        .token_bucket()
        .tokens_per_second(10.0)
        .max_tokens(100)
        .build()
        .expect("a valid tower-resilience budget");
    let tower_resilience = tower_resilience::retry::RetryLayer::<u64, u64, Infallible>::builder()
        .max_attempts(ATTEMPTS as usize)
        .exponential_backoff(Duration::from_millis(100))
        .budget(budget)
        .build();
    vec![
        Comparison::new("retry/layer")
            .zero_alloc()
            .ours(Entry::service(
                "resilience layer",
                RetryLayer::new(policy()).layer(Echo),
                number,
            ))
            .peer(Entry::service(
                "tower Retry+TpsBudget",
                tower::retry::RetryLayer::new(tower_policy).layer(Echo),
                number,
            ))
            .peer(Entry::service(
                "tower-resilience",
                tower_resilience.layer(Echo),
                number,
            )),
    ]
}
