//! The tail hedging cuts, and the share of extra calls it may cost.

use std::time::Duration;

use resilience_core::hedge::Hedge;
use resilience_core::retry::RetryBudget;
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::support::{Backend, MS};

/// One call in twenty (5%) takes a second; the rest 10 ms.
fn slow_one_in_twenty(n: usize) -> Duration {
    if n % 20 == 0 {
        Duration::from_secs(1)
    } else {
        10 * MS
    }
}

/// The `q` quantile of `samples` (nearest rank).
fn quantile(samples: &mut [Duration], q: f64) -> Duration {
    samples.sort();
    let rank = ((q * samples.len() as f64).ceil() as usize).clamp(1, samples.len());
    samples[rank - 1]
}

/// A budget of `ratio` extra calls per call and nothing more.
fn budget_of(ratio: f64) -> RetryBudget {
    RetryBudget::builder()
        .ratio(ratio)
        .min_per_sec(0)
        .build()
        .unwrap()
}

const TASKS: usize = 20;
const CALLS_PER_TASK: usize = 100;

/// Runs `TASKS` tasks of `CALLS_PER_TASK` calls each through `hedge` (or straight to the
/// backend without one) and returns every call's latency.
async fn latencies(backend: &Backend, hedge: Option<&Hedge>) -> Vec<Duration> {
    let mut tasks = JoinSet::new();
    for _ in 0..TASKS {
        let backend = backend.clone();
        let hedge = hedge.cloned();
        tasks.spawn(async move {
            let mut took = Vec::with_capacity(CALLS_PER_TASK);
            for _ in 0..CALLS_PER_TASK {
                let start = Instant::now();
                match &hedge {
                    Some(hedge) => {
                        hedge
                            .run(|| backend.call(slow_one_in_twenty, |_| false))
                            .await
                            .unwrap();
                    }
                    None => {
                        backend.call(slow_one_in_twenty, |_| false).await.unwrap();
                    }
                }
                took.push(start.elapsed());
            }
            took
        });
    }
    let mut all = Vec::new();
    while let Some(took) = tasks.join_next().await {
        all.extend(took.unwrap());
    }
    all
}

#[tokio::test(start_paused = true)]
async fn hedging_at_p95_brings_p99_under_100ms_within_the_budget_share() {
    let calls = TASKS * CALLS_PER_TASK;

    // Without hedging, the slow 5% are the tail: p99 is a full second.
    let mut plain = latencies(&Backend::default(), None).await;
    assert_eq!(quantile(&mut plain, 0.99), Duration::from_secs(1));

    let ratio = 0.1;
    let budget = budget_of(ratio);
    let hedge = Hedge::builder()
        .percentile(0.95)
        .min_samples(20)
        .budget(budget)
        .build()
        .unwrap();
    let backend = Backend::default();
    let mut hedged = latencies(&backend, Some(&hedge)).await;
    let p99 = quantile(&mut hedged, 0.99);
    assert!(p99 < 100 * MS, "p99 {p99:?}");
    // The delay settled just above the fast calls' 10 ms (the p95 bucket's upper bound).
    let delay = hedge.delay().unwrap();
    assert!(delay > 10 * MS && delay < 13 * MS, "delay {delay:?}");

    let extra = backend.calls() - calls;
    let snapshot = hedge.snapshot();
    assert_eq!(extra as u64, snapshot.sent, "every extra call is a hedge");
    assert!(
        extra as f64 <= ratio * calls as f64,
        "{extra} extra calls for {calls}: more than the budget's {ratio}"
    );
    // About the slow 5% were hedged, and those hedges won.
    assert!(extra >= calls / 25, "only {extra} hedges");
    assert!(snapshot.won * 10 >= snapshot.sent * 9, "{snapshot:?}");
    assert_eq!(backend.live(), 0, "every losing attempt was dropped");
}

#[tokio::test(start_paused = true)]
async fn the_budget_bounds_extra_calls_against_a_backend_that_always_fails_slowly() {
    let ratio = 0.2;
    let budget = budget_of(ratio);
    // Three hedges per call, each after 10 ms: without a budget, four calls per call.
    let hedge = Hedge::builder()
        .delay(10 * MS)
        .max_hedges(3)
        .budget(budget)
        .build()
        .unwrap();
    let backend = Backend::default();
    let calls = 500;
    let mut tasks = JoinSet::new();
    for _ in 0..10 {
        let (hedge, backend) = (hedge.clone(), backend.clone());
        tasks.spawn(async move {
            for _ in 0..calls / 10 {
                let err = hedge
                    .run(|| backend.call(|_| 50 * MS, |_| true))
                    .await
                    .unwrap_err();
                assert!(
                    err.field("call").is_some(),
                    "the backend's own error: {err}"
                );
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap();
    }
    let extra = backend.calls() - calls;
    assert!(
        extra as f64 <= ratio * calls as f64,
        "{extra} extra calls for {calls}"
    );
    assert!(hedge.snapshot().refused > 0, "the budget refused hedges");
    assert!(extra > 0, "hedges went out while the budget allowed");
    assert_eq!(backend.live(), 0);
}
