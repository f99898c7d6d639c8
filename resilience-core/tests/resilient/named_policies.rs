//! `retry = "name"` and `deadline = "name"`: policies from the global registry, whose
//! reconfiguration (a reloaded document) the functions follow.

use std::time::Duration;

use resilience_core::deadline::DeadlinePolicy;
use resilience_core::retry::{Backoff, Jitter, RetryBudget, RetryPolicy};
use resilience_core::{ErrorKind, Registry, resilient};
use tokio::time::sleep;

use crate::support::{AppError, Calls};

static FLAKY: Calls = Calls::new();

#[resilient(retry = "tests.named_retry")]
async fn always_fails() -> Result<(), AppError> {
    FLAKY.hit();
    Err(AppError::Failed("down"))
}

fn named_retry(attempts: u32) -> resilience_core::retry::RetryPolicyBuilder {
    RetryPolicy::builder()
        .max_attempts(attempts)
        .backoff(Backoff::constant(Duration::from_millis(10)))
        .jitter(Jitter::None)
        .no_budget()
}

#[tokio::test(start_paused = true)]
async fn a_named_retry_policy_is_used_and_its_reconfiguration_followed() {
    let policy = Registry::global()
        .retry_policy("tests.named_retry", |_| named_retry(3))
        .unwrap();
    always_fails().await.unwrap_err();
    assert_eq!(FLAKY.get(), 3);
    policy.reconfigure(named_retry(5)).unwrap();
    always_fails().await.unwrap_err();
    assert_eq!(FLAKY.get(), 3 + 5);
}

#[resilient(deadline = "tests.named_deadline")]
async fn takes(work: Duration) -> Result<(), AppError> {
    sleep(work).await;
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn a_named_deadline_bounds_each_call_with_its_current_default_timeout() {
    let policy = Registry::global()
        .deadline("tests.named_deadline", |b| {
            b.default_timeout(Duration::from_millis(100))
        })
        .unwrap();
    let err = takes(Duration::from_millis(200)).await.unwrap_err();
    assert_eq!(err.kind(), Some(ErrorKind::DeadlineExceeded));
    assert_eq!(err.resilience().instance(), Some("tests.named_deadline"));
    policy
        .reconfigure(DeadlinePolicy::builder().default_timeout(Duration::from_millis(300)))
        .unwrap();
    takes(Duration::from_millis(200)).await.unwrap();
}

/// A duration literal still means a duration: it starts with a digit.
#[resilient(deadline = "50ms")]
async fn fixed(work: Duration) -> Result<(), AppError> {
    sleep(work).await;
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn a_deadline_starting_with_a_digit_is_a_duration() {
    fixed(Duration::from_millis(10)).await.unwrap();
    let err = fixed(Duration::from_millis(100)).await.unwrap_err();
    assert_eq!(err.kind(), Some(ErrorKind::DeadlineExceeded));
}

static HEDGED: Calls = Calls::new();

/// The first attempt of each call takes 100 ms; a hedge answers at once.
#[resilient(retry = "tests.hedged_retry", hedge(delay = "20ms", max = 1))]
async fn slow_then_hedged(first_of_call: u32) -> Result<u32, AppError> {
    let n = HEDGED.hit();
    if n == first_of_call {
        sleep(Duration::from_millis(100)).await;
    }
    Ok(n)
}

#[tokio::test(start_paused = true)]
async fn a_hedge_on_a_named_retry_policys_budget_follows_its_reconfiguration() {
    let policy = Registry::global()
        .retry_policy("tests.hedged_retry", |_| named_retry(1))
        .unwrap();
    // No budget: the slow attempt is hedged.
    let start = tokio::time::Instant::now();
    assert_eq!(slow_then_hedged(1).await.unwrap(), 2);
    assert_eq!(start.elapsed(), Duration::from_millis(20));

    // A budget with nothing in it: no hedge may be sent any more.
    let empty = RetryBudget::builder()
        .min_per_sec(0)
        .ratio(0.01)
        .build()
        .unwrap();
    while empty.try_withdraw() {}
    policy.reconfigure(named_retry(1).budget(empty)).unwrap();
    let start = tokio::time::Instant::now();
    assert_eq!(slow_then_hedged(3).await.unwrap(), 3);
    assert_eq!(start.elapsed(), Duration::from_millis(100), "not hedged");
    assert_eq!(HEDGED.get(), 3);

    // No budget again: hedged again.
    policy.reconfigure(named_retry(1)).unwrap();
    let start = tokio::time::Instant::now();
    assert_eq!(slow_then_hedged(4).await.unwrap(), 5);
    assert_eq!(start.elapsed(), Duration::from_millis(20));
}
