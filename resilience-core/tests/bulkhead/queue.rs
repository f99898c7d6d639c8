//! The wait queue and the deadline, under paused time.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use resilience_core::bulkhead::Bulkhead;
use resilience_core::deadline::{self, Deadline};
use resilience_core::{ErrorKind, FieldValue, Primitive};
use tokio::time::Instant;

use crate::support::decided;

fn queued(max_concurrent: usize, max_waiting: usize, max_wait: Duration) -> Bulkhead {
    Bulkhead::builder()
        .name("db")
        .max_concurrent(max_concurrent)
        .max_waiting(max_waiting)
        .max_wait(max_wait)
        .build()
        .unwrap()
}

/// Lets spawned tasks run until they block (paused time: no clock moves).
async fn settle() {
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
}

#[tokio::test(start_paused = true)]
async fn waiters_are_admitted_in_arrival_order() {
    let bulkhead = queued(1, 5, Duration::from_secs(10));
    let held = bulkhead.try_acquire().unwrap();
    let order = Arc::new(Mutex::new(Vec::new()));
    let mut tasks = Vec::new();
    for i in 0..5 {
        let bulkhead = bulkhead.clone();
        let order = Arc::clone(&order);
        tasks.push(tokio::spawn(async move {
            let permit = bulkhead.acquire().await.expect("admitted within max_wait");
            order.lock().unwrap().push(i);
            tokio::time::sleep(Duration::from_millis(10)).await;
            drop(permit);
        }));
        settle().await;
    }
    assert_eq!(bulkhead.waiting(), 5);
    // A newcomer does not overtake the queue, even with `try_acquire`.
    drop(held);
    assert!(bulkhead.try_acquire().is_err());
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(*order.lock().unwrap(), vec![0, 1, 2, 3, 4]);
    assert_eq!((bulkhead.in_flight(), bulkhead.waiting()), (0, 0));
}

#[tokio::test(start_paused = true)]
async fn a_waiter_past_max_wait_is_rejected_as_bulkhead_full() {
    let bulkhead = queued(1, 1, Duration::from_millis(100));
    let _held = bulkhead.try_acquire().unwrap();
    let start = Instant::now();
    let err = bulkhead.acquire().await.unwrap_err();
    assert_eq!(start.elapsed(), Duration::from_millis(100));
    assert_eq!(err.kind(), ErrorKind::BulkheadFull);
    assert!(err.is_rejection());
    assert_eq!(err.primitive(), Some(Primitive::Bulkhead));
    assert_eq!(err.instance(), Some("db"));
    assert_eq!(err.retry_after(), Some(Duration::from_secs(1)));
    assert_eq!(err.field("reason"), Some(&FieldValue::from("max_wait")));
    assert_eq!(
        err.field("waited"),
        Some(&FieldValue::from(Duration::from_millis(100)))
    );
    assert_eq!(err.elapsed(), Some(Duration::from_millis(100)));
    assert_eq!(bulkhead.waiting(), 0);
}

#[tokio::test(start_paused = true)]
async fn queue_overflow_rejects_at_once() {
    let bulkhead = queued(1, 2, Duration::from_secs(5));
    let _held = bulkhead.try_acquire().unwrap();
    let waiters: Vec<_> = (0..2)
        .map(|_| {
            let bulkhead = bulkhead.clone();
            tokio::spawn(async move { bulkhead.acquire().await.map(drop) })
        })
        .collect();
    settle().await;
    assert_eq!(bulkhead.waiting(), 2);

    let start = Instant::now();
    let err = decided(bulkhead.acquire()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::BulkheadFull);
    assert_eq!(err.field("reason"), Some(&FieldValue::from("queue_full")));
    assert_eq!(start.elapsed(), Duration::ZERO);
    for waiter in waiters {
        assert_eq!(
            waiter.await.unwrap().unwrap_err().kind(),
            ErrorKind::BulkheadFull
        );
    }
}

#[tokio::test(start_paused = true)]
async fn without_a_queue_a_full_bulkhead_rejects_at_once() {
    let bulkhead = Bulkhead::builder().max_concurrent(1).build().unwrap();
    let _held = bulkhead.acquire().await.unwrap();
    let err = decided(bulkhead.acquire()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::BulkheadFull);
    assert_eq!(err.field("reason"), Some(&FieldValue::from("at_capacity")));
}

#[tokio::test(start_paused = true)]
async fn the_deadline_ends_a_wait_before_max_wait_with_deadline_exceeded() {
    let bulkhead = queued(1, 1, Duration::from_secs(10));
    let _held = bulkhead.try_acquire().unwrap();
    let start = Instant::now();
    let err = deadline::scope(Deadline::after(Duration::from_millis(300)), async {
        bulkhead.acquire().await.unwrap_err()
    })
    .await;
    assert_eq!(start.elapsed(), Duration::from_millis(300));
    assert_eq!(err.kind(), ErrorKind::DeadlineExceeded);
    assert!(err.is_rejection(), "the operation was never called");
    assert_eq!(err.instance(), Some("db"));
    assert_eq!(
        err.field("waited"),
        Some(&FieldValue::from(Duration::from_millis(300)))
    );
    assert_eq!(bulkhead.waiting(), 0);
}

#[tokio::test(start_paused = true)]
async fn max_wait_ends_a_wait_before_a_later_deadline_with_bulkhead_full() {
    let bulkhead = queued(1, 1, Duration::from_millis(100));
    let _held = bulkhead.try_acquire().unwrap();
    let start = Instant::now();
    let err = deadline::scope(Deadline::after(Duration::from_secs(5)), async {
        bulkhead.acquire().await.unwrap_err()
    })
    .await;
    assert_eq!(start.elapsed(), Duration::from_millis(100));
    assert_eq!(err.kind(), ErrorKind::BulkheadFull);
}

#[tokio::test(start_paused = true)]
async fn an_expired_deadline_refuses_to_wait_at_all() {
    let bulkhead = queued(1, 1, Duration::from_secs(10));
    let _held = bulkhead.try_acquire().unwrap();
    let expired = Deadline::after(Duration::from_millis(1));
    tokio::time::advance(Duration::from_millis(5)).await;
    let err = deadline::scope(expired, async { decided(bulkhead.acquire()) })
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::DeadlineExceeded);
    assert_eq!(bulkhead.waiting(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_free_slot_is_granted_whatever_the_deadline() {
    // The deadline bounds waiting only; refusing expired work is the deadline layer's job.
    let bulkhead = queued(1, 1, Duration::from_secs(10));
    let expired = Deadline::after(Duration::ZERO);
    let permit = deadline::scope(expired, async { bulkhead.acquire().await }).await;
    assert!(permit.is_ok());
}

#[tokio::test(start_paused = true)]
async fn a_cancelled_waiter_leaves_the_queue() {
    let bulkhead = queued(1, 1, Duration::from_secs(10));
    let held = bulkhead.try_acquire().unwrap();
    let waiter = {
        let bulkhead = bulkhead.clone();
        tokio::spawn(async move { bulkhead.acquire().await.map(drop) })
    };
    settle().await;
    assert_eq!(bulkhead.waiting(), 1);
    waiter.abort();
    assert!(waiter.await.unwrap_err().is_cancelled());
    assert_eq!(bulkhead.waiting(), 0);

    // Its place is free again, and releasing the slot hands it to nobody.
    drop(held);
    assert_eq!(bulkhead.in_flight(), 0);
    let _a = bulkhead.try_acquire().unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_slot_handed_to_a_cancelled_waiter_passes_to_the_next() {
    let bulkhead = queued(1, 2, Duration::from_secs(10));
    let held = bulkhead.try_acquire().unwrap();
    let spawn_waiter = |bulkhead: Bulkhead| {
        tokio::spawn(async move {
            let _permit = bulkhead.acquire().await?;
            tokio::time::sleep(Duration::from_millis(10)).await;
            Ok::<_, resilience_core::Error>(())
        })
    };
    let first = spawn_waiter(bulkhead.clone());
    settle().await;
    let second = spawn_waiter(bulkhead.clone());
    settle().await;
    assert_eq!(bulkhead.waiting(), 2);

    // The slot is handed to `first`, which is cancelled before it runs.
    drop(held);
    first.abort();
    assert!(first.await.unwrap_err().is_cancelled());
    second
        .await
        .unwrap()
        .expect("the hand-off reached the next waiter");
    assert_eq!((bulkhead.in_flight(), bulkhead.waiting()), (0, 0));
    let _slot = bulkhead.try_acquire().expect("the slot is free");
    assert!(
        bulkhead.try_acquire().is_err(),
        "and there is still one slot"
    );
}

#[tokio::test(start_paused = true)]
async fn a_permit_dropped_mid_call_frees_its_slot() {
    let bulkhead = queued(1, 1, Duration::from_secs(1));
    let call = bulkhead.call(tokio::time::sleep(Duration::from_secs(60)));
    let outcome = tokio::time::timeout(Duration::from_millis(50), call).await;
    assert!(outcome.is_err(), "the call was cancelled mid-way");
    assert_eq!(bulkhead.in_flight(), 0);
}

#[tokio::test(start_paused = true)]
async fn dropping_an_undecided_or_decided_acquire_never_leaks() {
    let bulkhead = queued(1, 1, Duration::from_secs(1));
    let admitted = bulkhead.acquire();
    assert_eq!(
        bulkhead.in_flight(),
        1,
        "the attempt happens when `acquire` is called"
    );
    let waiting = bulkhead.acquire();
    assert!(waiting.is_waiting());
    assert_eq!(bulkhead.waiting(), 1);
    drop(waiting);
    drop(admitted);
    assert_eq!((bulkhead.in_flight(), bulkhead.waiting()), (0, 0));
}

#[tokio::test(start_paused = true)]
async fn the_queue_order_is_the_order_of_acquire_calls_not_of_first_polls() {
    // `acquire` decides at the call (the tower layer calls it in `call` and awaits it later
    // in the response future), so the place in the queue must be taken there too.
    let bulkhead = queued(1, 2, Duration::from_secs(10));
    let held = bulkhead.try_acquire().unwrap();
    let first = bulkhead.acquire();
    let second = bulkhead.acquire();
    assert_eq!(bulkhead.waiting(), 2);

    // The later caller's future happens to be polled first.
    let second = tokio::spawn(second);
    settle().await;
    let first = tokio::spawn(first);
    settle().await;

    drop(held);
    settle().await;
    assert!(first.is_finished(), "the first caller gets the slot");
    assert!(!second.is_finished(), "the second caller keeps waiting");
    drop(first.await.unwrap().expect("admitted"));
    drop(second.await.unwrap().expect("admitted next"));
    assert_eq!((bulkhead.in_flight(), bulkhead.waiting()), (0, 0));
}

#[tokio::test(start_paused = true)]
async fn a_call_takes_its_permit_when_first_polled_not_when_made() {
    let bulkhead = Bulkhead::builder().max_concurrent(1).build().unwrap();
    let made = bulkhead.call(async { 7 });
    assert_eq!(bulkhead.in_flight(), 0, "not polled yet");
    let held = bulkhead.try_acquire().expect("the slot is free");
    drop(held);
    assert_eq!(made.await.unwrap(), 7);
    assert_eq!(bulkhead.in_flight(), 0);
}
