//! Rate limiter and retry budget keys: each changes behaviour after load and after
//! reload, except a budget's `ttl`, which a live budget refuses (changing nothing).

use std::time::Duration;

use resilience_core::Registry;
use resilience_core::rate_limit::RateLimiter;
use resilience_core::retry::RetryBudget;
use tokio::time::advance;

use crate::{load, reload, toml};

fn limiter(registry: &Registry) -> RateLimiter {
    registry.get_rate_limiter("api").unwrap()
}

/// Units granted at once.
fn burst_granted(l: &RateLimiter) -> usize {
    let mut n = 0;
    while l.try_acquire().is_ok() {
        n += 1;
        assert!(n <= 100_000);
    }
    n
}

/// Asserts `registry` refuses `text`, naming `path`.
fn refused(registry: &Registry, text: &str, path: &str) {
    let err = registry.apply(&toml(text).unwrap()).unwrap_err();
    assert_eq!(err.path(), path, "{err}");
}

#[tokio::test(start_paused = true)]
async fn rate_sets_the_sustained_rate_after_load_and_reload() {
    let registry = load("[rate_limiter.api]\nrate = 4.0\nburst = 1\n");
    let l = limiter(&registry);
    burst_granted(&l);
    advance(Duration::from_secs(1)).await;
    assert_eq!(
        burst_granted(&l),
        1,
        "burst 1: one unit back after a second"
    );
    advance(Duration::from_millis(250)).await;
    assert_eq!(burst_granted(&l), 1, "4 per second: one unit per 250ms");
    reload(&registry, "[rate_limiter.api]\nrate = 2.0\nburst = 1\n");
    advance(Duration::from_millis(250)).await;
    assert_eq!(
        burst_granted(&l),
        1,
        "the unit granted before the reload came due"
    );
    advance(Duration::from_millis(250)).await;
    assert_eq!(burst_granted(&l), 0, "2 per second: one unit per 500ms");
    advance(Duration::from_millis(250)).await;
    assert_eq!(burst_granted(&l), 1);
}

#[tokio::test(start_paused = true)]
async fn burst_sets_what_an_idle_limiter_grants_at_once_after_load_and_reload() {
    let registry = load("[rate_limiter.api]\nrate = 10.0\nburst = 3\n");
    let l = limiter(&registry);
    assert_eq!(burst_granted(&l), 3);
    reload(&registry, "[rate_limiter.api]\nrate = 10.0\nburst = 6\n");
    // The burst spent is not handed out again: 3 more units of room now.
    assert_eq!(burst_granted(&l), 3);
    advance(Duration::from_secs(1)).await;
    assert_eq!(burst_granted(&l), 6, "idle again: the whole new burst");
}

#[tokio::test(start_paused = true)]
async fn max_wait_lets_callers_wait_their_turn_after_load_and_reload() {
    let registry = load("[rate_limiter.api]\nrate = 1.0\nmax_wait = \"2s\"\n");
    let l = limiter(&registry);
    l.try_acquire().unwrap();
    assert!(l.acquire().await.is_ok(), "waits 1s for the next unit");
    reload(
        &registry,
        "[rate_limiter.api]\nrate = 1.0\nmax_wait = \"500ms\"\n",
    );
    assert!(l.acquire().await.is_err(), "the next unit is 1s away");
    advance(Duration::from_millis(600)).await;
    assert!(l.acquire().await.is_ok(), "400ms away: within the wait");
}

fn budget(registry: &Registry) -> RetryBudget {
    registry.get_retry_budget("calls").unwrap()
}

/// Retries the budget grants now.
fn withdrawals(b: &RetryBudget) -> usize {
    let mut n = 0;
    while b.try_withdraw() {
        n += 1;
        assert!(n <= 100_000);
    }
    n
}

#[tokio::test(start_paused = true)]
async fn min_per_sec_sets_the_floor_after_load_and_reload() {
    let registry = load("[retry_budget.calls]\nttl = \"1s\"\nmin_per_sec = 3\nratio = 0.0\n");
    assert_eq!(withdrawals(&budget(&registry)), 3);
    advance(Duration::from_secs(2)).await;
    reload(
        &registry,
        "[retry_budget.calls]\nttl = \"1s\"\nmin_per_sec = 5\nratio = 0.0\n",
    );
    assert_eq!(withdrawals(&budget(&registry)), 5);
}

#[tokio::test(start_paused = true)]
async fn ratio_sets_the_retries_each_call_earns_after_load_and_reload() {
    let registry = load("[retry_budget.calls]\nttl = \"1s\"\nmin_per_sec = 0\nratio = 0.5\n");
    let b = budget(&registry);
    for _ in 0..10 {
        b.deposit();
    }
    assert_eq!(withdrawals(&b), 5);
    advance(Duration::from_secs(2)).await;
    // A read of the balance moves the budget's slots on to the present.
    assert_eq!(b.balance(), 0.0);
    reload(
        &registry,
        "[retry_budget.calls]\nttl = \"1s\"\nmin_per_sec = 0\nratio = 0.2\n",
    );
    for _ in 0..10 {
        b.deposit();
    }
    assert_eq!(withdrawals(&b), 2);
}

#[tokio::test(start_paused = true)]
async fn ttl_sets_how_long_the_floor_accumulates_after_load_and_a_live_change_is_refused() {
    let registry = load("[retry_budget.calls]\nttl = \"2s\"\nmin_per_sec = 2\nratio = 0.0\n");
    assert_eq!(withdrawals(&budget(&registry)), 4, "2 per second over 2s");
    refused(
        &registry,
        "[retry_budget.calls]\nttl = \"4s\"\nmin_per_sec = 2\nratio = 0.0\n",
        "retry_budget.calls.ttl",
    );
    assert_eq!(budget(&registry).ttl(), Duration::from_secs(2));
}
