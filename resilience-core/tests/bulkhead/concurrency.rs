//! Real concurrency: a multi-thread runtime, 1000 tasks, capacity 10.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use resilience_core::ErrorKind;
use resilience_core::bulkhead::Bulkhead;

use crate::support::{Upstream, pseudo_random};

const TASKS: usize = 1000;
const CAPACITY: usize = 10;

#[derive(Default)]
struct Outcomes {
    completed: AtomicUsize,
    rejected: AtomicUsize,
    cancelled: AtomicUsize,
}

impl Outcomes {
    fn total(&self) -> usize {
        self.completed.load(Ordering::SeqCst)
            + self.rejected.load(Ordering::SeqCst)
            + self.cancelled.load(Ordering::SeqCst)
    }
}

/// Runs `TASKS` callers through `bulkhead`; odd callers are cancelled after a random
/// number of scheduler yields when `cancel_half` is set.
async fn run(bulkhead: &Bulkhead, upstream: &Arc<Upstream>, cancel_half: bool) -> Arc<Outcomes> {
    let outcomes = Arc::new(Outcomes::default());
    let mut tasks = Vec::with_capacity(TASKS);
    for i in 0..TASKS {
        let bulkhead = bulkhead.clone();
        let upstream = Arc::clone(upstream);
        let outcomes = Arc::clone(&outcomes);
        tasks.push(tokio::spawn(async move {
            let mut random = pseudo_random(i as u64);
            let steps = random(8) as usize;
            let call = bulkhead.call(upstream.call(steps));
            let cancel_after = if cancel_half && i % 2 == 1 {
                Some(random(12))
            } else {
                None
            };
            let outcome = match cancel_after {
                None => Some(call.await),
                Some(yields) => {
                    tokio::select! {
                        biased;
                        outcome = call => Some(outcome),
                        () = async {
                            for _ in 0..yields {
                                tokio::task::yield_now().await;
                            }
                        } => None,
                    }
                }
            };
            let counter = match outcome {
                Some(Ok(())) => &outcomes.completed,
                Some(Err(err)) => {
                    assert_eq!(err.kind(), ErrorKind::BulkheadFull, "{err}");
                    assert!(err.is_rejection());
                    &outcomes.rejected
                }
                None => &outcomes.cancelled,
            };
            counter.fetch_add(1, Ordering::SeqCst);
        }));
    }
    for task in tasks {
        task.await.expect("no task panics");
    }
    outcomes
}

/// After a run: nothing in flight, nobody queued, and exactly `CAPACITY` slots to take —
/// no slot leaked, and no stray hand-off lets a waiter past the cap.
async fn assert_clean(bulkhead: &Bulkhead) {
    assert_eq!(bulkhead.in_flight(), 0);
    assert_eq!(bulkhead.waiting(), 0);
    let permits: Vec<_> = (0..CAPACITY)
        .map(|_| bulkhead.try_acquire().expect("every slot is free again"))
        .collect();
    assert!(bulkhead.try_acquire().is_err());
    if bulkhead.max_waiting() > 0 {
        let waited = tokio::time::timeout(Duration::from_millis(20), bulkhead.acquire()).await;
        assert!(
            !matches!(waited, Ok(Ok(_))),
            "a waiter must not pass a full bulkhead"
        );
    }
    drop(permits);
    assert_eq!(bulkhead.in_flight(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_thousand_callers_never_exceed_capacity_and_each_completes_or_is_rejected() {
    let bulkhead = Bulkhead::builder()
        .name("upstream")
        .max_concurrent(CAPACITY)
        .build()
        .unwrap();
    let upstream = Upstream::new();
    let outcomes = run(&bulkhead, &upstream, false).await;

    assert!(upstream.peak() <= CAPACITY, "peak {}", upstream.peak());
    assert_eq!(outcomes.total(), TASKS);
    assert_eq!(
        outcomes.completed.load(Ordering::SeqCst),
        upstream.finished()
    );
    assert!(upstream.finished() >= CAPACITY);
    assert_eq!(upstream.current(), 0);
    assert_clean(&bulkhead).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn with_a_queue_a_thousand_callers_never_exceed_capacity() {
    let bulkhead = Bulkhead::builder()
        .max_concurrent(CAPACITY)
        .max_waiting(200)
        .max_wait(Duration::from_millis(20))
        .build()
        .unwrap();
    let upstream = Upstream::new();
    let outcomes = run(&bulkhead, &upstream, false).await;

    assert!(upstream.peak() <= CAPACITY, "peak {}", upstream.peak());
    assert_eq!(outcomes.total(), TASKS);
    assert_eq!(
        outcomes.completed.load(Ordering::SeqCst),
        upstream.finished()
    );
    assert_clean(&bulkhead).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn half_the_callers_cancelled_mid_wait_or_mid_call_leak_no_slot() {
    let bulkhead = Bulkhead::builder()
        .max_concurrent(CAPACITY)
        .max_waiting(500)
        .max_wait(Duration::from_secs(30))
        .build()
        .unwrap();
    let upstream = Upstream::new();
    let outcomes = run(&bulkhead, &upstream, true).await;

    assert!(upstream.peak() <= CAPACITY, "peak {}", upstream.peak());
    assert_eq!(outcomes.total(), TASKS);
    let cancelled = outcomes.cancelled.load(Ordering::SeqCst);
    assert!(cancelled > 0, "some callers were cancelled");
    // Cancelled mid-call: the upstream saw them start and never finish.
    assert!(upstream.abandoned() > 0, "some were cancelled mid-call");
    // Cancelled before the call: while queued for a permit.
    assert!(
        cancelled > upstream.abandoned(),
        "some were cancelled mid-wait"
    );
    assert_eq!(upstream.current(), 0);
    assert_clean(&bulkhead).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn aborted_tasks_release_their_permits() {
    let bulkhead = Bulkhead::builder()
        .max_concurrent(CAPACITY)
        .max_waiting(TASKS)
        .max_wait(Duration::from_secs(30))
        .build()
        .unwrap();
    let upstream = Upstream::new();
    let tasks: Vec<_> = (0..TASKS)
        .map(|i| {
            let bulkhead = bulkhead.clone();
            let upstream = Arc::clone(&upstream);
            tokio::spawn(async move { bulkhead.call(upstream.call(i % 16)).await })
        })
        .collect();
    for (i, task) in tasks.iter().enumerate() {
        if i % 2 == 0 {
            task.abort();
        }
    }
    for task in tasks {
        match task.await {
            Ok(outcome) => outcome.expect("a queue as large as the burst admits everyone"),
            Err(join) => assert!(join.is_cancelled()),
        }
    }
    assert!(upstream.peak() <= CAPACITY);
    assert_clean(&bulkhead).await;
}
