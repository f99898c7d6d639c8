//! `hedge(...)` and `fallback = ...`: a slow attempt hedged with copies of the arguments,
//! shared policies, and the fallback answering what the whole call failed with.

use std::sync::LazyLock;
use std::time::Duration;

use resilience_core::fallback::Fallback;
use resilience_core::throttle::AdaptiveThrottle;
use resilience_core::{ErrorKind, Registry, resilient};
use tokio::time::{Instant, sleep};

use crate::support::{AppError, Calls};

static SLOW_FIRST: Calls = Calls::new();

#[resilient(name = "hedge.lookup", hedge(delay = "20ms", max = 2))]
async fn lookup(key: String, suffix: &str) -> Result<String, AppError> {
    // The first attempt hangs; the hedges answer after 5 ms.
    let took = match SLOW_FIRST.hit() {
        1 => Duration::from_secs(5),
        _ => Duration::from_millis(5),
    };
    sleep(took).await;
    Ok(format!("{key}{suffix}"))
}

#[tokio::test(start_paused = true)]
async fn a_slow_attempt_is_hedged_with_its_own_copy_of_the_arguments() {
    let start = Instant::now();
    let value = lookup("user:7".to_owned(), "!").await.unwrap();
    assert_eq!(value, "user:7!");
    assert_eq!(start.elapsed(), Duration::from_millis(25));
    assert_eq!(SLOW_FIRST.get(), 2, "one hedge was enough");
}

static SHARED: Calls = Calls::new();

struct Catalog;

impl Catalog {
    #[resilient(hedge = "catalog", timeout = "1s")]
    async fn item(&self, id: u32) -> Result<u32, AppError> {
        if SHARED.hit() == 1 {
            sleep(Duration::from_secs(2)).await;
        }
        Ok(id)
    }
}

#[tokio::test(start_paused = true)]
async fn a_named_policy_is_shared_from_the_registry() {
    let hedge = Registry::global()
        .hedge("catalog", |b| {
            b.delay(Duration::from_millis(30)).no_budget()
        })
        .unwrap();
    let start = Instant::now();
    assert_eq!(Catalog.item(3).await.unwrap(), 3);
    assert_eq!(start.elapsed(), Duration::from_millis(30));
    assert_eq!(hedge.snapshot().won, 1);
}

static RETRIED: Calls = Calls::new();

#[resilient(
    retry(attempts = 2, base = "10ms", jitter = "none"),
    hedge(delay = "20ms")
)]
async fn flaky_then_slow() -> Result<u32, AppError> {
    match RETRIED.hit() {
        1 => Err(AppError::Failed("reset")), // retried after 10 ms
        2 => {
            sleep(Duration::from_secs(1)).await; // hedged after 20 ms
            Ok(2)
        }
        _ => Ok(3),
    }
}

#[tokio::test(start_paused = true)]
async fn each_retry_attempt_is_hedged() {
    let start = Instant::now();
    assert_eq!(flaky_then_slow().await.unwrap(), 3);
    assert_eq!(start.elapsed(), Duration::from_millis(30));
}

static PRICES: LazyLock<Fallback<u32, AppError>> = LazyLock::new(|| {
    Fallback::builder()
        .name("prices")
        .on_kinds([ErrorKind::Timeout])
        .value(0)
        .build()
        .unwrap()
});

#[resilient(timeout = "50ms", fallback = PRICES)]
async fn price(took: u64, fail: bool) -> Result<u32, AppError> {
    sleep(Duration::from_millis(took)).await;
    if fail {
        return Err(AppError::Failed("no price"));
    }
    Ok(100)
}

#[tokio::test(start_paused = true)]
async fn the_fallback_answers_the_failures_it_chose_and_nothing_else() {
    assert_eq!(
        price(10, false).await.unwrap(),
        100,
        "a success is left alone"
    );
    assert_eq!(price(60, false).await.unwrap(), 0, "a timeout is answered");
    let err = price(10, true).await.unwrap_err();
    assert!(matches!(err, AppError::Failed("no price")), "{err:?}");
}

fn fresh_or_stale() -> Fallback<String, AppError> {
    static STALE: LazyLock<Fallback<String, AppError>> = LazyLock::new(|| {
        Fallback::builder()
            .stale(Duration::from_secs(60))
            .build()
            .unwrap()
    });
    STALE.clone()
}

static FLIP: Calls = Calls::new();

#[resilient(fallback = fresh_or_stale, deadline = "100ms")]
async fn headline() -> Result<String, AppError> {
    match FLIP.hit() {
        1 => Ok("markets up".to_owned()),
        _ => {
            sleep(Duration::from_secs(1)).await;
            Ok("too late".to_owned())
        }
    }
}

#[tokio::test(start_paused = true)]
async fn a_fallback_from_a_function_answers_a_passed_deadline_with_the_last_success() {
    assert_eq!(headline().await.unwrap(), "markets up");
    let start = Instant::now();
    assert_eq!(
        headline().await.unwrap(),
        "markets up",
        "the deadline passed: stale"
    );
    assert_eq!(start.elapsed(), Duration::from_millis(100));
}

static THROTTLED: Calls = Calls::new();

static UPSTREAM: LazyLock<AdaptiveThrottle> = LazyLock::new(|| {
    AdaptiveThrottle::builder()
        .name("hedge.upstream")
        .build()
        .unwrap()
});

#[resilient(hedge(delay = "20ms"), throttle = UPSTREAM)]
async fn throttled_lookup() -> Result<u32, AppError> {
    // The first attempt fails at 30 ms, while its hedge (sent at 20 ms) is in flight.
    let n = THROTTLED.hit();
    sleep(Duration::from_millis(if n == 1 { 30 } else { 20 })).await;
    match n {
        1 => Err(AppError::Failed("reset")),
        n => Ok(n),
    }
}

#[tokio::test(start_paused = true)]
async fn every_hedge_is_a_request_to_the_throttle() {
    assert_eq!(throttled_lookup().await.unwrap(), 2, "the hedge answered");
    // Outside the hedge, the throttle would have seen one request for the whole call.
    assert_eq!(
        UPSTREAM.snapshot().requests,
        2,
        "the first attempt and its hedge each went through the throttle"
    );
}
