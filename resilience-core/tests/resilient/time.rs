//! `deadline` bounds the whole call; `timeout` bounds each attempt.

use std::time::Duration;

use resilience_core::deadline::{self, Deadline};
use resilience_core::{ErrorKind, Primitive, resilient};
use tokio::time::{Instant, sleep};

use crate::support::AppError;

#[resilient(name = "time.slow", timeout = "300ms")]
async fn slow(work: Duration) -> Result<Duration, AppError> {
    sleep(work).await;
    Ok(work)
}

#[tokio::test(start_paused = true)]
async fn timeout_fails_a_slow_attempt_with_timeout_converted_into_the_callers_error() {
    let start = Instant::now();
    let err = slow(Duration::from_secs(5)).await.unwrap_err();
    assert_eq!(err.kind(), Some(ErrorKind::Timeout));
    assert_eq!(start.elapsed(), Duration::from_millis(300));
    let err = err.resilience();
    assert_eq!(err.primitive(), Some(Primitive::Timeout));
    assert_eq!(err.operation(), Some("time.slow"));
    assert!(!err.is_rejection(), "the attempt had started");
}

#[tokio::test(start_paused = true)]
async fn timeout_lets_a_fast_attempt_through() {
    let got = slow(Duration::from_millis(299)).await.unwrap();
    assert_eq!(got, Duration::from_millis(299));
}

#[resilient(name = "time.bounded", deadline = "2s")]
async fn bounded(work: Duration) -> Result<Option<Duration>, AppError> {
    // The deadline is ambient inside the body.
    let remaining = Deadline::current().map(Deadline::remaining);
    sleep(work).await;
    Ok(remaining)
}

#[tokio::test(start_paused = true)]
async fn deadline_is_ambient_inside_and_fails_the_call_when_it_passes() {
    let remaining = bounded(Duration::from_millis(10)).await.unwrap();
    assert_eq!(remaining, Some(Duration::from_secs(2)));

    let start = Instant::now();
    let err = bounded(Duration::from_secs(60)).await.unwrap_err();
    assert_eq!(err.kind(), Some(ErrorKind::DeadlineExceeded));
    assert_eq!(start.elapsed(), Duration::from_secs(2));
    let err = err.resilience();
    assert_eq!(err.primitive(), Some(Primitive::Deadline));
    assert_eq!(err.operation(), Some("time.bounded"));
}

#[tokio::test(start_paused = true)]
async fn an_earlier_ambient_deadline_shortens_the_configured_one() {
    let outer = Deadline::after(Duration::from_millis(500));
    let remaining = deadline::scope(outer, bounded(Duration::ZERO))
        .await
        .unwrap();
    assert_eq!(remaining, Some(Duration::from_millis(500)));

    let start = Instant::now();
    let err = deadline::scope(outer, bounded(Duration::from_secs(60)))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), Some(ErrorKind::DeadlineExceeded));
    assert_eq!(start.elapsed(), Duration::from_millis(500));
}

#[tokio::test(start_paused = true)]
async fn an_expired_ambient_deadline_rejects_without_running_the_body() {
    let outer = Deadline::after(Duration::from_millis(100));
    sleep(Duration::from_millis(200)).await;
    let err = deadline::scope(outer, bounded(Duration::ZERO))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), Some(ErrorKind::DeadlineExceeded));
    assert!(err.resilience().is_rejection());
}

#[resilient(name = "time.both", deadline = "1s", timeout = "300ms")]
async fn both(work: Duration) -> Result<(), AppError> {
    sleep(work).await;
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn the_attempt_timeout_fires_inside_the_deadline() {
    let err = both(Duration::from_secs(10)).await.unwrap_err();
    assert_eq!(err.kind(), Some(ErrorKind::Timeout));
}
