//! The ambient deadline and `max_elapsed` bound every retry.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use resilience_core::deadline::{self, Deadline};
use resilience_core::retry::Backoff;
use resilience_core::{ErrorKind, FieldValue};
use tokio::time::Instant;

use crate::support::{Attempts, MS, boom, exact};

#[tokio::test(start_paused = true)]
async fn never_sleeps_past_the_ambient_deadline() {
    let policy = exact(Backoff::constant(400 * MS), 10).build().unwrap();
    let attempts = Attempts::default();
    let start = Instant::now();
    let err = deadline::scope(Deadline::after(1000 * MS), async {
        policy
            .run(|| {
                attempts.hit();
                async { Err::<(), _>(boom()) }
            })
            .await
    })
    .await
    .unwrap_err();
    // Attempts at 0, 400 and 800 ms; a fourth at 1200 ms would be past the deadline.
    assert_eq!(attempts.gaps(), [400 * MS, 400 * MS]);
    assert_eq!(
        start.elapsed(),
        800 * MS,
        "returned at once, no sleep past it"
    );
    assert_eq!(
        err.kind(),
        ErrorKind::Inner,
        "the last error, not a new one"
    );
    assert_eq!(err.field("retry_stop"), Some(&FieldValue::from("deadline")));
    assert_eq!(err.attempts(), Some(3));
}

#[tokio::test(start_paused = true)]
async fn each_attempt_timeout_is_clamped_to_what_is_left() {
    let policy = exact(Backoff::constant(MS), 3)
        .attempt_timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let start = Instant::now();
    let err = deadline::scope(Deadline::after(Duration::from_secs(1)), async {
        policy
            .run(|| async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                Ok::<_, std::io::Error>(())
            })
            .await
    })
    .await
    .unwrap_err();
    assert_eq!(start.elapsed(), Duration::from_secs(1));
    assert_eq!(err.kind(), ErrorKind::DeadlineExceeded);
    assert!(!err.is_rejection(), "the attempt ran and was cut off");
    assert_eq!(err.attempts(), Some(1), "a deadline is not retried");
    assert_eq!(err.field("retry_stop"), Some(&FieldValue::from("deadline")));
}

#[tokio::test(start_paused = true)]
async fn an_attempt_timeout_shorter_than_the_deadline_is_retried() {
    let policy = exact(Backoff::constant(10 * MS), 3)
        .attempt_timeout(100 * MS)
        .build()
        .unwrap();
    let attempts = Attempts::default();
    let err = deadline::scope(Deadline::after(Duration::from_secs(5)), async {
        policy
            .run(|| {
                attempts.hit();
                async {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    Ok::<_, std::io::Error>(())
                }
            })
            .await
    })
    .await
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout);
    assert_eq!(attempts.gaps(), [110 * MS, 110 * MS]);
}

#[tokio::test(start_paused = true)]
async fn an_expired_deadline_fails_without_calling_the_operation() {
    let policy = exact(Backoff::constant(MS), 3).build().unwrap();
    let calls = AtomicU32::new(0);
    let dl = Deadline::after(10 * MS);
    tokio::time::advance(20 * MS).await;
    let err = deadline::scope(dl, async {
        policy
            .run(|| {
                calls.fetch_add(1, Ordering::Relaxed);
                async { Ok::<_, std::io::Error>(()) }
            })
            .await
    })
    .await
    .unwrap_err();
    assert_eq!(calls.load(Ordering::Relaxed), 0);
    assert_eq!(err.kind(), ErrorKind::DeadlineExceeded);
    assert!(err.is_rejection());
    assert_eq!(err.field("retry_stop"), Some(&FieldValue::from("deadline")));
}

#[tokio::test(start_paused = true)]
async fn max_elapsed_bounds_the_call_like_a_deadline() {
    let policy = exact(Backoff::constant(300 * MS), 10)
        .max_elapsed(Duration::from_secs(1))
        .build()
        .unwrap();
    let start = Instant::now();
    let err = policy
        .run(|| async { Err::<(), _>(boom()) })
        .await
        .unwrap_err();
    assert!(start.elapsed() <= Duration::from_secs(1));
    assert_eq!(err.attempts(), Some(4), "0, 300, 600, 900 ms");
    assert_eq!(err.elapsed(), Some(900 * MS));
}

#[tokio::test(start_paused = true)]
async fn a_retry_after_past_the_deadline_stops_at_once() {
    let policy = exact(Backoff::constant(MS), 5)
        .max_retry_after(Duration::from_secs(60))
        .build()
        .unwrap();
    let start = Instant::now();
    let err = deadline::scope(Deadline::after(Duration::from_secs(2)), async {
        policy
            .run(|| async { Err::<(), _>(boom().with_retry_after(Duration::from_secs(5))) })
            .await
    })
    .await
    .unwrap_err();
    assert_eq!(start.elapsed(), Duration::ZERO);
    assert_eq!(err.field("retry_stop"), Some(&FieldValue::from("deadline")));
    assert_eq!(err.retry_after(), Some(Duration::from_secs(5)));
}

#[tokio::test(start_paused = true)]
async fn a_call_made_outside_a_deadline_and_run_under_it_keeps_to_it() {
    // `run` reads the ambient deadline when first polled, inside `Deadline::run`, not
    // when the future is made.
    let policy = exact(Backoff::constant(400 * MS), 10).build().unwrap();
    let start = Instant::now();
    let call = policy.run(|| async { Err::<(), _>(boom()) });
    let err = Deadline::after(1000 * MS)
        .run(call)
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(start.elapsed(), 800 * MS);
    assert_eq!(err.field("retry_stop"), Some(&FieldValue::from("deadline")));
}
