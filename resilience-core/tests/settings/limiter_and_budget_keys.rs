//! Rate limiter and retry budget keys: each changes behaviour after load; a reload
//! changes a budget's `min_per_sec` and `ratio` in place, and refuses what a live
//! instance cannot take (a limiter's quota, a budget's `ttl`) without changing anything.

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

/// Refuses `text` on `registry`, naming `path`.
fn refused(registry: &Registry, text: &str, path: &str) {
    let err = registry.apply(&toml(text).unwrap()).unwrap_err();
    assert_eq!(err.path(), path, "{err}");
}

#[tokio::test(start_paused = true)]
async fn rate_sets_the_sustained_rate_after_load_and_a_live_change_is_refused() {
    let registry = load("[rate_limiter.api]\nrate = 4.0\n");
    let l = limiter(&registry);
    assert_eq!(burst_granted(&l), 4, "a second's worth at once");
    advance(Duration::from_secs(1)).await;
    assert_eq!(burst_granted(&l), 4);
    refused(&registry, "[rate_limiter.api]\nrate = 8.0\n", "rate_limiter.api.rate");
    assert_eq!(limiter(&registry).quota().rate(), 4.0);
    // Removed from the registry, the name takes the new settings.
    registry.remove_rate_limiter("api");
    reload(&registry, "[rate_limiter.api]\nrate = 8.0\n");
    assert_eq!(burst_granted(&limiter(&registry)), 8);
}

#[tokio::test(start_paused = true)]
async fn burst_sets_what_an_idle_limiter_grants_at_once_after_load() {
    let registry = load("[rate_limiter.api]\nrate = 10.0\nburst = 3\n");
    assert_eq!(burst_granted(&limiter(&registry)), 3);
    refused(
        &registry,
        "[rate_limiter.api]\nrate = 10.0\nburst = 5\n",
        "rate_limiter.api.burst",
    );
    assert_eq!(limiter(&registry).quota().burst(), 3);
    // The same settings again are no change: accepted.
    reload(&registry, "[rate_limiter.api]\nrate = 10.0\nburst = 3\n");
}

#[tokio::test(start_paused = true)]
async fn max_wait_lets_callers_wait_their_turn_after_load() {
    let registry = load("[rate_limiter.api]\nrate = 1.0\nmax_wait = \"2s\"\n");
    let l = limiter(&registry);
    l.try_acquire().unwrap();
    assert!(l.acquire().await.is_ok(), "waits 1s for the next unit");
    refused(
        &registry,
        "[rate_limiter.api]\nrate = 1.0\n",
        "rate_limiter.api.max_wait",
    );
    let without = load("[rate_limiter.api]\nrate = 1.0\n");
    let l = limiter(&without);
    l.try_acquire().unwrap();
    assert!(l.acquire().await.is_err(), "no waiting by default");
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
