//! `adaptive` and `throttle`: an adaptive bulkhead and a client-side throttle, by
//! registry name or by path, nested like the other primitives.

use std::sync::LazyLock;
use std::time::Duration;

use resilience_core::adaptive::{AdaptiveBulkhead, Aimd};
use resilience_core::throttle::AdaptiveThrottle;
use resilience_core::{ErrorKind, Registry, resilient};
use tokio::time::sleep;

use crate::support::{AppError, Calls};

fn aimd(initial: usize) -> Aimd {
    Aimd::builder()
        .initial_limit(initial)
        .min_limit(1)
        .max_limit(50)
        .timeout(Duration::from_millis(100))
        .build()
        .unwrap()
}

#[resilient(adaptive = "tests.adaptive")]
async fn query(ms: u64) -> Result<u64, AppError> {
    sleep(Duration::from_millis(ms)).await;
    Ok(ms)
}

#[tokio::test(start_paused = true)]
async fn a_named_adaptive_bulkhead_caps_calls_and_its_limit_follows_them() {
    let limiter = Registry::global()
        .adaptive_bulkhead("tests.adaptive", |b| {
            b.algorithm(aimd(2))
                .min_window(Duration::from_millis(5))
                .max_window(Duration::from_millis(5))
                .window_samples(1)
        })
        .unwrap();
    let first = tokio::spawn(query(10));
    let second = tokio::spawn(query(10));
    tokio::task::yield_now().await;
    let err = query(10).await.unwrap_err();
    assert_eq!(err.kind(), Some(ErrorKind::BulkheadFull));
    assert_eq!(first.await.unwrap().unwrap(), 10);
    assert_eq!(second.await.unwrap().unwrap(), 10);
    // Fast calls, the limit in use: AIMD adds a slot a window.
    for _ in 0..5 {
        let calls: Vec<_> = (0..limiter.limit())
            .map(|_| tokio::spawn(query(10)))
            .collect();
        for call in calls {
            call.await.unwrap().unwrap();
        }
    }
    assert!(limiter.limit() > 2, "{}", limiter.limit());
}

static REPORTS: LazyLock<AdaptiveBulkhead> = LazyLock::new(|| {
    AdaptiveBulkhead::builder()
        .name("tests.reports")
        .algorithm(aimd(1))
        .build()
        .unwrap()
});

#[resilient(adaptive = REPORTS, timeout = "1s")]
async fn report() -> Result<(), AppError> {
    sleep(Duration::from_millis(50)).await;
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn an_adaptive_bulkhead_by_path_is_shared_and_holds_its_permit_for_the_call() {
    let running = tokio::spawn(report());
    tokio::task::yield_now().await;
    assert_eq!(REPORTS.in_flight(), 1);
    assert_eq!(
        report().await.unwrap_err().kind(),
        Some(ErrorKind::BulkheadFull)
    );
    running.await.unwrap().unwrap();
    assert_eq!(REPORTS.in_flight(), 0);
}

static BACKEND: Calls = Calls::new();

#[resilient(
    throttle = "tests.throttle",
    circuit_breaker = "tests.throttle.breaker"
)]
async fn fetch() -> Result<(), AppError> {
    BACKEND.hit();
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn a_throttle_outside_an_open_breaker_counts_its_refusals_and_throttles() {
    let throttle = Registry::global()
        .throttle("tests.throttle", |b| b.window(Duration::from_secs(10)))
        .unwrap();
    let breaker = Registry::global()
        .circuit_breaker("tests.throttle.breaker", |b| b)
        .unwrap();
    breaker.force_open();
    let mut kinds = Vec::new();
    for _ in 0..100 {
        kinds.push(fetch().await.unwrap_err().kind().unwrap());
    }
    assert_eq!(BACKEND.get(), 0);
    assert_eq!(kinds[0], ErrorKind::CircuitOpen);
    let throttled = kinds.iter().filter(|&&k| k == ErrorKind::Throttled).count();
    assert!(throttled > 80, "{throttled}");
    assert!(throttle.rejection_probability() > 0.9);
    let snapshot = throttle.snapshot();
    assert_eq!((snapshot.requests, snapshot.accepts), (100, 0));
}

static FLAKY: Calls = Calls::new();

static RETRIED: LazyLock<AdaptiveThrottle> = LazyLock::new(|| {
    AdaptiveThrottle::builder()
        .name("tests.retried")
        .build()
        .unwrap()
});

#[resilient(throttle = RETRIED, retry(attempts = 3, base = "10ms"))]
async fn flaky() -> Result<u32, AppError> {
    let n = FLAKY.hit();
    if n < 3 {
        Err(AppError::Failed("not yet"))
    } else {
        Ok(n)
    }
}

#[tokio::test(start_paused = true)]
async fn inside_retry_every_attempt_is_a_request() {
    assert_eq!(flaky().await.unwrap(), 3);
    let snapshot = RETRIED.snapshot();
    // Failures the backend answered are accepted: three requests, three accepts.
    assert_eq!((snapshot.requests, snapshot.accepts), (3, 3));
}
