//! Configuration: documented defaults and clear errors for bad input.

use std::time::Duration;

use resilience_core::Primitive;
use resilience_core::bulkhead::{Bulkhead, MAX_PERMITS};

#[test]
fn defaults_are_resilience4j_s_25_concurrent_calls_and_no_wait() {
    let bulkhead = Bulkhead::builder().build().unwrap();
    assert_eq!(bulkhead.capacity(), 25);
    assert_eq!(bulkhead.max_waiting(), 0);
    assert_eq!(bulkhead.max_wait(), Duration::ZERO);
    assert_eq!(bulkhead.name().as_str(), "default");
    let snapshot = bulkhead.snapshot();
    assert_eq!(
        (snapshot.capacity, snapshot.in_flight, snapshot.waiting),
        (25, 0, 0)
    );
}

#[test]
fn zero_concurrency_is_a_clear_error() {
    let err = Bulkhead::builder().max_concurrent(0).build().unwrap_err();
    assert_eq!(err.primitive(), Primitive::Bulkhead);
    assert_eq!(err.option(), "max_concurrent");
    assert_eq!(
        err.to_string(),
        "invalid bulkhead config: `max_concurrent` must be at least 1, got 0"
    );
}

#[test]
fn a_queue_without_a_wait_is_a_clear_error() {
    let err = Bulkhead::builder().max_waiting(10).build().unwrap_err();
    assert_eq!(err.option(), "max_wait");
    assert!(err.to_string().contains("`max_waiting` is 10"), "{err}");
}

#[test]
fn a_wait_without_a_queue_is_a_clear_error() {
    let err = Bulkhead::builder()
        .max_wait(Duration::from_millis(100))
        .build()
        .unwrap_err();
    assert_eq!(err.option(), "max_wait");
    assert!(err.to_string().contains("set `max_waiting`"), "{err}");
}

#[test]
fn counts_beyond_the_state_word_are_clear_errors() {
    let err = Bulkhead::builder()
        .max_concurrent(MAX_PERMITS + 1)
        .build()
        .unwrap_err();
    assert_eq!(err.option(), "max_concurrent");
    let err = Bulkhead::builder()
        .max_waiting(usize::MAX)
        .max_wait(Duration::from_secs(1))
        .build()
        .unwrap_err();
    assert_eq!(err.option(), "max_waiting");
    assert!(
        Bulkhead::builder()
            .max_concurrent(MAX_PERMITS)
            .build()
            .is_ok()
    );
}

#[test]
fn a_zero_retry_after_hint_is_a_clear_error() {
    let err = Bulkhead::builder()
        .retry_after(Duration::ZERO)
        .build()
        .unwrap_err();
    assert_eq!(err.option(), "retry_after");
}

#[tokio::test(start_paused = true)]
async fn an_enormous_max_wait_does_not_overflow_the_clock() {
    let bulkhead = Bulkhead::builder()
        .max_concurrent(1)
        .max_waiting(1)
        .max_wait(Duration::MAX)
        .build()
        .unwrap();
    let held = bulkhead.try_acquire().unwrap();
    let waiter = bulkhead.acquire();
    assert!(waiter.is_waiting());
    drop(held);
    assert!(waiter.await.is_ok());
}

#[test]
fn clones_share_one_set_of_slots() {
    let bulkhead = Bulkhead::builder().max_concurrent(1).build().unwrap();
    let clone = bulkhead.clone();
    assert!(clone.same_as(&bulkhead));
    let _permit = bulkhead.try_acquire().unwrap();
    assert!(clone.try_acquire().is_err());
    assert_eq!(clone.in_flight(), 1);
    let other = Bulkhead::builder().max_concurrent(1).build().unwrap();
    assert!(!other.same_as(&bulkhead));
}

#[test]
fn futures_and_permits_are_send_sync_and_static() {
    fn send_static<T: Send + Sync + 'static>(_: &T) {}
    let bulkhead = Bulkhead::builder().build().unwrap();
    let acquire = bulkhead.acquire();
    send_static(&acquire);
    let permit = bulkhead.try_acquire().unwrap();
    send_static(&permit);
    fn send<T: Send>(_: &T) {}
    send(&bulkhead.call(async {}));
}
