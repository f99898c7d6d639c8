//! `rate_limit`: a limiter from the registry (or a path), one turn per attempt, inside the
//! breaker and outside the bulkhead.

use std::sync::LazyLock;
use std::time::Duration;

use resilience_core::circuit_breaker::State;
use resilience_core::deadline::{self, Deadline};
use resilience_core::rate_limit::RateLimiter;
use resilience_core::{Class, ErrorKind, Primitive, Registry, resilient};
use tokio::time::{Instant, advance};

use crate::support::{AppError, Calls};

static SEARCHES: Calls = Calls::new();

#[resilient(rate_limit = "tests.search")]
async fn search() -> Result<u32, AppError> {
    Ok(SEARCHES.hit())
}

#[tokio::test(start_paused = true)]
async fn an_empty_limit_refuses_with_rate_limited_and_the_wait_without_running_the_body() {
    // Two at once, then one every 30 s.
    let limiter = Registry::global()
        .rate_limiter("tests.search", |b| b.limit(2, Duration::from_secs(60)))
        .unwrap();
    assert_eq!(search().await.unwrap(), 1);
    assert_eq!(search().await.unwrap(), 2);

    let err = search().await.unwrap_err();
    assert_eq!(err.kind(), Some(ErrorKind::RateLimited));
    let err = err.resilience();
    assert!(err.is_rejection());
    assert_eq!(err.primitive(), Some(Primitive::RateLimit));
    assert_eq!(err.instance(), Some("tests.search"));
    assert_eq!(err.retry_after(), Some(Duration::from_secs(30)));
    assert_eq!(SEARCHES.get(), 2, "the body was not called");
    assert_eq!(limiter.available(), 0);

    advance(Duration::from_secs(30)).await;
    assert_eq!(
        search().await.unwrap(),
        3,
        "room again after the wait it named"
    );
}

static FLAKY: Calls = Calls::new();

#[resilient(
    retry(
        attempts = 5,
        backoff = "constant",
        base = "10ms",
        max = "1s",
        jitter = "none"
    ),
    rate_limit = "tests.flaky_quota"
)]
async fn flaky() -> Result<(), AppError> {
    FLAKY.hit();
    Err(AppError::Failed("unavailable"))
}

#[tokio::test(start_paused = true)]
async fn every_retry_attempt_takes_its_own_turn() {
    // Three units, then one every 20 minutes: far longer than the retry would wait.
    let limiter = Registry::global()
        .rate_limiter("tests.flaky_quota", |b| {
            b.limit(3, Duration::from_secs(3600))
        })
        .unwrap();
    let err = flaky().await.unwrap_err();
    assert_eq!(FLAKY.get(), 3, "three attempts ran, one unit each");
    assert_eq!(limiter.available(), 0);
    // The fourth attempt was refused; its hint is longer than the policy waits, so the
    // refusal comes back with it for the caller to honour.
    assert_eq!(err.kind(), Some(ErrorKind::RateLimited));
    let err = err.resilience();
    assert_eq!(err.attempts(), Some(4));
    let hint = err.retry_after().expect("a hint");
    assert!(hint > Duration::from_secs(19 * 60), "{hint:?}");
}

static PACED: Calls = Calls::new();

#[resilient(
    retry(
        attempts = 3,
        backoff = "constant",
        base = "1ms",
        max = "1s",
        jitter = "none"
    ),
    rate_limit = "tests.paced"
)]
async fn paced() -> Result<u32, AppError> {
    match PACED.hit() {
        1 => Err(AppError::Failed("reset")),
        n => Ok(n),
    }
}

#[tokio::test(start_paused = true)]
async fn a_refused_attempt_is_retried_no_sooner_than_its_hint() {
    // One at a time, ten a second.
    Registry::global()
        .rate_limiter("tests.paced", |b| b.rate(10.0).burst(1))
        .unwrap();
    let start = Instant::now();
    // Attempt 1 takes the unit and fails; attempt 2 (1 ms later) is refused with a 99 ms
    // hint that fits the policy; attempt 3 runs once the unit is back.
    assert_eq!(paced().await.unwrap(), 2);
    assert_eq!(PACED.get(), 2, "the refused attempt never ran the body");
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(100) && took < Duration::from_millis(110),
        "{took:?}"
    );
}

static QUOTA: LazyLock<RateLimiter> = LazyLock::new(|| {
    RateLimiter::builder()
        .name("tests.provider_quota")
        .limit(1, Duration::from_secs(1))
        .max_wait(Duration::from_secs(2))
        .build()
        .unwrap()
});

static QUOTED: Calls = Calls::new();

#[resilient(rate_limit = QUOTA)]
async fn quoted() -> Result<(), AppError> {
    QUOTED.hit();
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn a_limiter_with_max_wait_makes_the_call_wait_its_turn_but_not_past_the_deadline() {
    let start = Instant::now();
    quoted().await.unwrap();
    quoted().await.unwrap();
    assert_eq!(
        start.elapsed(),
        Duration::from_secs(1),
        "waited one interval"
    );
    assert_eq!(QUOTED.get(), 2);

    // The next turn is a second away; the caller has half a second: refused at once.
    let start = Instant::now();
    let err = deadline::scope(Deadline::after(Duration::from_millis(500)), quoted())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), Some(ErrorKind::DeadlineExceeded));
    assert_eq!(err.resilience().primitive(), Some(Primitive::RateLimit));
    assert_eq!(
        start.elapsed(),
        Duration::ZERO,
        "no wait that cannot end well"
    );
    assert_eq!(QUOTED.get(), 2);
}

static GUARDED: Calls = Calls::new();

#[resilient(
    circuit_breaker = "tests.limited_breaker",
    rate_limit = "tests.limited_breaker"
)]
async fn behind_breaker() -> Result<(), AppError> {
    GUARDED.hit();
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn refusals_are_not_held_against_the_breaker_and_an_open_breaker_spends_no_turn() {
    let breaker = Registry::global()
        .circuit_breaker("tests.limited_breaker", |b| b.consecutive_failures(2))
        .unwrap();
    let limiter = Registry::global()
        .rate_limiter("tests.limited_breaker", |b| {
            b.limit(1, Duration::from_secs(60))
        })
        .unwrap();
    behind_breaker().await.unwrap();
    for _ in 0..3 {
        let err = behind_breaker().await.unwrap_err();
        assert_eq!(err.kind(), Some(ErrorKind::RateLimited));
    }
    assert_eq!(breaker.state(), State::Closed, "a refusal is not a failure");

    advance(Duration::from_secs(60)).await;
    breaker.force_open();
    let err = behind_breaker().await.unwrap_err();
    assert_eq!(err.kind(), Some(ErrorKind::CircuitOpen));
    assert_eq!(limiter.available(), 1, "the open breaker took no unit");
    assert_eq!(GUARDED.get(), 1);
}

static UNREGISTERED: Calls = Calls::new();

#[resilient(rate_limit = "tests.no_such_limit")]
async fn no_such_limit() -> Result<(), AppError> {
    UNREGISTERED.hit();
    Ok(())
}

#[tokio::test]
async fn an_unregistered_limit_fails_every_call_naming_it_until_it_is_registered() {
    for _ in 0..2 {
        let err = no_such_limit().await.unwrap_err();
        let err = err.resilience();
        assert_eq!(err.primitive(), Some(Primitive::RateLimit));
        assert_eq!(err.instance(), Some("tests.no_such_limit"));
        assert_eq!(err.effective_class(), Class::Permanent, "not retried");
        let message = format!("{err:#}");
        assert!(message.contains("`tests.no_such_limit`"), "{message}");
        assert!(message.contains("not registered"), "{message}");
    }
    assert_eq!(UNREGISTERED.get(), 0, "no body ran without its limiter");

    // Registered late, it is found (and used) on the next call.
    let limiter = Registry::global()
        .rate_limiter("tests.no_such_limit", |b| {
            b.limit(1, Duration::from_secs(3600))
        })
        .unwrap();
    no_such_limit().await.unwrap();
    assert_eq!(UNREGISTERED.get(), 1);
    assert_eq!(limiter.available(), 0, "the registered limiter was used");
    assert_eq!(
        no_such_limit().await.unwrap_err().kind(),
        Some(ErrorKind::RateLimited)
    );
}
