//! The limit moving under calls in flight and waiters, deadline-aware admission, and
//! what feeds the algorithm.

use std::time::Duration;

use resilience_core::classify::from_fn;
use resilience_core::deadline::{self, Deadline};
use resilience_core::{Class, Error, ErrorKind, Registry};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::support::{Scripted, scripted};
use resilience_core::adaptive::AdaptiveBulkhead;

type Call = (oneshot::Sender<()>, JoinHandle<Result<(), Error>>);

/// A call that holds its permit until its sender fires (or is dropped).
async fn held(limiter: &AdaptiveBulkhead) -> Call {
    let (tx, rx) = oneshot::channel::<()>();
    let limiter = limiter.clone();
    let task = tokio::spawn(async move {
        limiter
            .call(async move {
                let _ = rx.await;
                Ok::<_, std::io::Error>(())
            })
            .await
    });
    // Let the task ask for its permit.
    for _ in 0..4 {
        tokio::task::yield_now().await;
    }
    (tx, task)
}

async fn finish((tx, task): Call) -> Result<(), Error> {
    tokio::time::advance(Duration::from_millis(2)).await;
    tx.send(()).unwrap();
    task.await.unwrap()
}

async fn quick(limiter: &AdaptiveBulkhead) -> Result<(), Error> {
    limiter.call(async { Ok::<_, std::io::Error>(()) }).await
}

#[tokio::test(start_paused = true)]
async fn lowering_the_limit_lets_calls_above_it_finish_and_admits_none_until_under_it() {
    let script = Scripted::new(4, 10);
    let limiter = scripted(&script).build().unwrap();
    let mut calls = Vec::new();
    for _ in 0..4 {
        calls.push(held(&limiter).await);
    }
    assert_eq!(limiter.in_flight(), 4);

    script.set(1);
    finish(calls.pop().unwrap()).await.unwrap();
    assert_eq!(limiter.limit(), 1);
    // Three still run above the new limit of 1: none is cut off, none is let in.
    assert_eq!(limiter.in_flight(), 3);
    assert_eq!(
        quick(&limiter).await.unwrap_err().kind(),
        ErrorKind::BulkheadFull
    );
    finish(calls.pop().unwrap()).await.unwrap();
    finish(calls.pop().unwrap()).await.unwrap();
    assert_eq!(limiter.in_flight(), 1);
    assert_eq!(
        quick(&limiter).await.unwrap_err().kind(),
        ErrorKind::BulkheadFull
    );
    finish(calls.pop().unwrap()).await.unwrap();
    assert_eq!(limiter.in_flight(), 0);
    // Exactly one slot now: no permit leaked, none was given back twice.
    let only = limiter.bulkhead().try_acquire().unwrap();
    assert!(limiter.bulkhead().try_acquire().is_err());
    drop(only);
}

#[tokio::test(start_paused = true)]
async fn raising_the_limit_serves_the_waiters_at_once() {
    let script = Scripted::new(1, 10);
    let limiter = scripted(&script)
        .max_waiting(3)
        .max_wait(Duration::from_secs(60))
        .build()
        .unwrap();
    let first = held(&limiter).await;
    let mut queued = Vec::new();
    for _ in 0..3 {
        queued.push(held(&limiter).await);
    }
    assert_eq!((limiter.in_flight(), limiter.waiting()), (1, 3));

    script.set(4);
    finish(first).await.unwrap();
    for _ in 0..4 {
        tokio::task::yield_now().await;
    }
    assert_eq!(limiter.limit(), 4);
    assert_eq!((limiter.in_flight(), limiter.waiting()), (3, 0));
    for call in queued {
        finish(call).await.unwrap();
    }
    assert_eq!(limiter.in_flight(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_deadline_shorter_than_the_expected_wait_is_refused_at_once() {
    let script = Scripted::new(1, 10);
    let limiter = scripted(&script)
        .max_waiting(10)
        .max_wait(Duration::from_secs(60))
        .build()
        .unwrap();
    // Teach it that a call takes 100 ms.
    let slow = || {
        limiter.call(async {
            tokio::time::sleep(Duration::from_millis(100)).await;
            Ok::<_, std::io::Error>(())
        })
    };
    slow().await.unwrap();
    slow().await.unwrap();
    assert_eq!(limiter.snapshot().latency, Some(Duration::from_millis(100)));

    let busy = held(&limiter).await;
    // First in line behind one slot of 100 ms: 50 ms left is not enough.
    let started = Instant::now();
    let err = deadline::scope(Deadline::after(Duration::from_millis(50)), quick(&limiter))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::DeadlineExceeded);
    assert!(err.is_rejection());
    assert_eq!(err.field("reason").unwrap().to_string(), "expected_wait");
    assert_eq!(started.elapsed(), Duration::ZERO, "refused without waiting");
    assert_eq!(limiter.waiting(), 0);

    // 150 ms is: it queues, and is served when the slot frees up.
    let (tx, task) = busy;
    let waiter = {
        let limiter = limiter.clone();
        tokio::spawn(deadline::scope(
            Deadline::after(Duration::from_millis(150)),
            async move { quick(&limiter).await },
        ))
    };
    tokio::task::yield_now().await;
    assert_eq!(limiter.waiting(), 1);
    tx.send(()).unwrap();
    task.await.unwrap().unwrap();
    waiter.await.unwrap().unwrap();
}

#[tokio::test(start_paused = true)]
async fn benign_outcomes_rejections_and_dropped_calls_are_not_samples_and_failures_are_drops() {
    let script = Scripted::new(2, 10);
    let limiter = scripted(&script).build().unwrap();
    let pass = || tokio::time::advance(Duration::from_millis(2));

    pass().await;
    let benign = from_fn(|_: &Result<(), std::io::Error>| Class::Benign);
    limiter
        .call_with(&benign, async { Ok::<_, std::io::Error>(()) })
        .await
        .unwrap();
    pass().await;
    // A rejection from further in: the dependency was never called.
    let _ = limiter
        .call(async { Err::<(), _>(Error::new(ErrorKind::CircuitOpen)) })
        .await;
    pass().await;
    // Dropped mid-call.
    let (_tx, call) = held(&limiter).await;
    call.abort();
    let _ = call.await;
    pass().await;
    assert!(script.samples().is_empty(), "{:?}", script.samples());

    let _ = limiter
        .call(async { Err::<(), _>(std::io::Error::other("boom")) })
        .await;
    let samples = script.samples();
    assert_eq!(samples.len(), 1);
    assert!(samples[0].dropped);
    pass().await;
    quick(&limiter).await.unwrap();
    let samples = script.samples();
    assert_eq!(samples.len(), 2);
    assert!(!samples[1].dropped);
    assert_eq!(samples[1].in_flight, 1, "counts itself");
}

#[tokio::test(start_paused = true)]
async fn registry_shares_adaptive_bulkheads_and_snapshots_their_limit() {
    let registry = Registry::new();
    let script = Scripted::new(3, 10);
    let first = registry
        .adaptive_bulkhead("search", |b| b.algorithm(script.clone()))
        .unwrap();
    let again = registry.adaptive_bulkhead("search", |b| b).unwrap();
    assert!(first.same_as(&again));
    assert!(registry.get_adaptive_bulkhead("search").is_some());
    let _call = held(&first).await;
    let snapshot = registry.snapshot();
    let found = &snapshot.adaptive_bulkheads[0];
    assert_eq!(found.name, "search");
    assert_eq!(
        (found.algorithm, found.limit, found.in_flight),
        ("scripted", 3, 1)
    );
    assert_eq!((found.min_limit, found.max_limit), (1, 10));
    assert!(registry.remove_adaptive_bulkhead("search").is_some());
    assert!(registry.snapshot().adaptive_bulkheads.is_empty());
}

#[test]
fn the_current_limit_is_a_gauge() {
    use metrics_util::debugging::{DebugValue, DebuggingRecorder};

    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let script = Scripted::new(7, 10);
    metrics::with_local_recorder(&recorder, || {
        scripted(&script).name("gauged").build().unwrap();
    });
    let gauge = snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .find(|(key, ..)| key.key().name() == "resilience_concurrency_limit")
        .expect("the gauge was registered");
    let labels: Vec<_> = gauge
        .0
        .key()
        .labels()
        .map(|l| (l.key(), l.value()))
        .collect();
    assert_eq!(labels, [("name", "gauged")]);
    assert_eq!(gauge.3, DebugValue::Gauge(7.0.into()));
}

#[tokio::test(start_paused = true)]
async fn a_call_takes_its_permit_when_first_polled_not_when_made() {
    let script = Scripted::new(1, 10);
    let limiter = scripted(&script).build().unwrap();
    let made = limiter.call(async { Ok::<_, std::io::Error>(7) });
    assert_eq!(limiter.in_flight(), 0, "not polled yet");
    let held = limiter.bulkhead().try_acquire().expect("the slot is free");
    drop(held);
    assert_eq!(made.await.unwrap(), 7);
    assert_eq!(limiter.in_flight(), 0);
}
