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
        .ratio(0.2)
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
                .ratio(1.0)
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
        .ratio(0.5)
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

fn fractional(ttl: Duration) -> RetryBudget {
    RetryBudget::builder()
        .ttl(ttl)
        .min_per_sec(0)
        .ratio(1.0)
        .build()
        .unwrap()
}

#[tokio::test(start_paused = true)]
async fn the_budget_works_again_after_idling_for_hours_and_days() {
    // 15 h and 40 h at ttl 1 s are more than 2^19 and 2^20 slots of 100 ms: the slot
    // tags must not mistake the old slots for newer or current ones.
    for idle in [
        Duration::from_secs(15 * 3600),
        Duration::from_secs(104_857) + 600 * MS, // exactly 2^20 slots
        Duration::from_secs(40 * 3600),
        Duration::from_secs(7 * 24 * 3600),
    ] {
        let budget = fractional(Duration::from_secs(1));
        (0..50).for_each(|_| budget.deposit());
        assert!(budget.try_withdraw());
        tokio::time::advance(idle).await;
        assert_eq!(budget.balance(), 0.0, "idle {idle:?}: old deposits expired");
        assert!(!budget.try_withdraw(), "idle {idle:?}: nothing to withdraw");
        (0..5).for_each(|_| budget.deposit());
        let granted = (0..10).filter(|_| budget.try_withdraw()).count();
        assert_eq!(granted, 5, "idle {idle:?}: fresh deposits count");
    }
}

#[tokio::test(start_paused = true)]
async fn extreme_configurations_neither_panic_nor_overflow() {
    let huge = RetryBudget::builder()
        .ttl(Duration::from_secs(60))
        .min_per_sec(u32::MAX)
        .ratio(10.0)
        .build()
        .unwrap();
    for _ in 0..1000 {
        huge.deposit();
        assert!(huge.try_withdraw());
    }
    assert!(huge.balance() > 1e9);
    let none = RetryBudget::builder()
        .min_per_sec(0)
        .ratio(0.0)
        .build()
        .unwrap();
    none.deposit();
    assert!(!none.try_withdraw(), "0% and no floor: never a retry");
    assert_eq!(none.balance(), 0.0);
}
