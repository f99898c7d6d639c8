//! A shared budget stops retry storms.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use resilience_core::retry::{Backoff, RetryBudget};
use resilience_core::telemetry::metric;
use resilience_core::{ErrorKind, FieldValue};

use crate::support::{MS, boom, exact};

/// A counter's name, labels and value.
type Row = (String, Vec<(String, String)>, u64);

fn counter(snapshot: &[Row], name: &str, outcome: &str) -> u64 {
    snapshot
        .iter()
        .filter(|(n, labels, _)| {
            n == name && (outcome.is_empty() || labels.iter().any(|(_, v)| v == outcome))
        })
        .map(|(_, _, v)| v)
        .sum()
}

#[tokio::test(start_paused = true)]
async fn budget_stops_a_storm_of_a_thousand_failing_calls() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    // 20% of calls plus a floor of 10/s over 10 s: 100 + 0.2 * 1000 = 300 retries.
    let budget = RetryBudget::builder()
        .ttl(Duration::from_secs(10))
        .min_per_sec(10)
        .percent(0.2)
        .build()
        .unwrap();
    let policy = metrics::with_local_recorder(&recorder, || {
        exact(Backoff::constant(10 * MS), 3)
            .name("storm")
            .budget(budget.clone())
            .build()
            .unwrap()
    });
    let attempts = Arc::new(AtomicU64::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..1000 {
        let (policy, attempts) = (policy.clone(), Arc::clone(&attempts));
        tasks.spawn(async move {
            policy
                .run(|| {
                    attempts.fetch_add(1, Ordering::Relaxed);
                    async { Err::<(), _>(boom()) }
                })
                .await
                .unwrap_err()
        });
    }
    let mut exhausted = 0;
    while let Some(err) = tasks.join_next().await {
        let err = err.unwrap();
        if err.kind() == ErrorKind::RetryBudgetExhausted {
            exhausted += 1;
            assert_eq!(err.field("cause"), Some(&FieldValue::from("inner")));
            assert!(!err.is_rejection());
        }
    }
    let attempts = attempts.load(Ordering::Relaxed);
    assert_eq!(attempts, 1000 + 300, "exactly the allowed extra attempts");

    let snapshot: Vec<Row> = snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .filter_map(|(key, _, _, value)| match value {
            DebugValue::Counter(v) => Some((
                key.key().name().to_owned(),
                key.key()
                    .labels()
                    .map(|l| (l.key().to_owned(), l.value().to_owned()))
                    .collect(),
                v,
            )),
            _ => None,
        })
        .collect();
    assert_eq!(
        counter(&snapshot, metric::RETRY_ATTEMPTS_TOTAL, "failure"),
        attempts
    );
    assert_eq!(
        counter(&snapshot, metric::RETRY_BUDGET_EXHAUSTED_TOTAL, ""),
        exhausted
    );
    assert!(exhausted > 0);
}

#[tokio::test(start_paused = true)]
async fn clones_of_a_policy_share_its_budget() {
    let policy = exact(Backoff::constant(MS), 5)
        .budget(
            RetryBudget::builder()
                .min_per_sec(0)
                .percent(1.0)
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    let other = policy.clone();
    // One call deposits one retry; the clone's call deposits another: two retries in all.
    policy.budget().unwrap().deposit();
    let err = other
        .run(|| async { Err::<(), _>(boom()) })
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::RetryBudgetExhausted);
    assert_eq!(err.attempts(), Some(3));
    assert_eq!(policy.budget().unwrap().balance(), 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_withdrawals_never_overdraw() {
    let budget = RetryBudget::builder()
        .min_per_sec(0)
        .percent(0.5)
        .build()
        .unwrap();
    for _ in 0..1000 {
        budget.deposit();
    }
    let granted = Arc::new(AtomicU64::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let (budget, granted) = (budget.clone(), Arc::clone(&granted));
        tasks.spawn(async move {
            for _ in 0..200 {
                if budget.try_withdraw() {
                    granted.fetch_add(1, Ordering::Relaxed);
                }
                tokio::task::yield_now().await;
            }
        });
    }
    while tasks.join_next().await.is_some() {}
    let granted = granted.load(Ordering::Relaxed);
    assert!(granted <= 500, "granted {granted} of 500");
    assert!(granted >= 490, "granted only {granted} of 500");
}
