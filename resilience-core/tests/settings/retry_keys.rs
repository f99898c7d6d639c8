//! Retry policy keys: each changes behaviour after load and after reload (time paused).

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use resilience_core::retry::RetryPolicy;
use resilience_core::{Error, ErrorKind, Registry};
use tokio::time::Instant;

use crate::{load, reload};

const MS: Duration = Duration::from_millis(1);

fn policy(registry: &Registry) -> RetryPolicy {
    registry.get_retry_policy("p").unwrap()
}

fn boom() -> Error {
    Error::new(ErrorKind::Inner).with_detail("boom")
}

/// Runs one call that always fails with `fail()`; the attempts made and the gaps between
/// them.
async fn failing_call(policy: &RetryPolicy, fail: fn() -> Error) -> (u32, Vec<Duration>) {
    let starts = std::sync::Mutex::new(Vec::new());
    let _ = policy
        .run(|| {
            starts.lock().unwrap().push(Instant::now());
            async { Err::<(), _>(fail()) }
        })
        .await;
    let starts = starts.into_inner().unwrap();
    let gaps = starts.windows(2).map(|w| w[1] - w[0]).collect();
    (starts.len() as u32, gaps)
}

/// A document with the `[retry.p]` table `keys` (no budget unless `keys` names one).
fn doc(keys: &str) -> String {
    if keys.contains("budget") {
        format!("[retry.p]\n{keys}\n")
    } else {
        format!("[retry.p]\nbudget = \"none\"\n{keys}\n")
    }
}

#[tokio::test(start_paused = true)]
async fn max_attempts_bounds_the_attempts_after_load_and_reload() {
    let registry = load(&doc("max_attempts = 3\nbase = \"1ms\""));
    assert_eq!(failing_call(&policy(&registry), boom).await.0, 3);
    reload(&registry, &doc("max_attempts = 5\nbase = \"1ms\""));
    assert_eq!(failing_call(&policy(&registry), boom).await.0, 5);
}

#[tokio::test(start_paused = true)]
async fn backoff_sets_the_curve_after_load_and_reload() {
    let keys = |curve: &str| {
        format!("max_attempts = 4\nbackoff = \"{curve}\"\nbase = \"100ms\"\njitter = \"none\"")
    };
    let registry = load(&doc(&keys("constant")));
    let (_, gaps) = failing_call(&policy(&registry), boom).await;
    assert_eq!(gaps, [100 * MS, 100 * MS, 100 * MS]);
    reload(&registry, &doc(&keys("exponential")));
    let (_, gaps) = failing_call(&policy(&registry), boom).await;
    assert_eq!(gaps, [100 * MS, 200 * MS, 400 * MS]);
    reload(&registry, &doc(&keys("linear")));
    let (_, gaps) = failing_call(&policy(&registry), boom).await;
    assert_eq!(
        gaps,
        [100 * MS, 200 * MS, 300 * MS],
        "step defaults to base"
    );
}

#[tokio::test(start_paused = true)]
async fn base_sets_the_first_delay_after_load_and_reload() {
    let keys = |base: &str| {
        format!("max_attempts = 2\nbackoff = \"constant\"\nbase = \"{base}\"\njitter = \"none\"")
    };
    let registry = load(&doc(&keys("100ms")));
    assert_eq!(failing_call(&policy(&registry), boom).await.1, [100 * MS]);
    reload(&registry, &doc(&keys("300ms")));
    assert_eq!(failing_call(&policy(&registry), boom).await.1, [300 * MS]);
}

#[tokio::test(start_paused = true)]
async fn step_sets_the_linear_increment_after_load_and_reload() {
    let keys = |step: &str| {
        format!(
            "max_attempts = 3\nbackoff = \"linear\"\nbase = \"10ms\"\nstep = \"{step}\"\njitter = \"none\""
        )
    };
    let registry = load(&doc(&keys("100ms")));
    assert_eq!(
        failing_call(&policy(&registry), boom).await.1,
        [10 * MS, 110 * MS]
    );
    reload(&registry, &doc(&keys("200ms")));
    assert_eq!(
        failing_call(&policy(&registry), boom).await.1,
        [10 * MS, 210 * MS]
    );
}

#[tokio::test(start_paused = true)]
async fn factor_sets_the_exponential_multiplier_after_load_and_reload() {
    let keys = |factor: f64| {
        format!(
            "max_attempts = 3\nbackoff = \"exponential\"\nbase = \"10ms\"\nfactor = {factor:?}\njitter = \"none\""
        )
    };
    let registry = load(&doc(&keys(3.0)));
    assert_eq!(
        failing_call(&policy(&registry), boom).await.1,
        [10 * MS, 30 * MS]
    );
    reload(&registry, &doc(&keys(5.0)));
    assert_eq!(
        failing_call(&policy(&registry), boom).await.1,
        [10 * MS, 50 * MS]
    );
}

#[tokio::test(start_paused = true)]
async fn max_delay_caps_the_delays_after_load_and_reload() {
    let keys = |max: &str| {
        format!("max_attempts = 4\nbase = \"100ms\"\nmax_delay = \"{max}\"\njitter = \"none\"")
    };
    let registry = load(&doc(&keys("150ms")));
    let (_, gaps) = failing_call(&policy(&registry), boom).await;
    assert_eq!(gaps, [100 * MS, 150 * MS, 150 * MS]);
    reload(&registry, &doc(&keys("300ms")));
    let (_, gaps) = failing_call(&policy(&registry), boom).await;
    assert_eq!(gaps, [100 * MS, 200 * MS, 300 * MS]);
}

#[tokio::test(start_paused = true)]
async fn jitter_spreads_the_delays_after_load_and_reload() {
    let keys = |jitter: &str| {
        format!("max_attempts = 3\nbackoff = \"constant\"\nbase = \"100ms\"\njitter = \"{jitter}\"")
    };
    let registry = load(&doc(&keys("none")));
    for _ in 0..5 {
        let (_, gaps) = failing_call(&policy(&registry), boom).await;
        assert_eq!(gaps, [100 * MS, 100 * MS]);
    }
    reload(&registry, &doc(&keys("equal")));
    let mut spread = false;
    for _ in 0..5 {
        let (_, gaps) = failing_call(&policy(&registry), boom).await;
        assert!(
            gaps.iter().all(|g| (50 * MS..=100 * MS).contains(g)),
            "{gaps:?}"
        );
        spread |= gaps.iter().any(|g| *g != 100 * MS);
    }
    assert!(spread, "ten jittered delays, all exactly the base");
}

#[tokio::test(start_paused = true)]
async fn attempt_timeout_cuts_each_attempt_off_after_load_and_reload() {
    let keys = |t: &str| format!("max_attempts = 1\nattempt_timeout = \"{t}\"");
    let slow = |policy: RetryPolicy| async move {
        policy
            .run(|| async {
                tokio::time::sleep(Duration::from_secs(1)).await;
                Ok::<_, Error>(())
            })
            .await
    };
    let registry = load(&doc(&keys("100ms")));
    let err = slow(policy(&registry)).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout);
    reload(&registry, &doc(&keys("2s")));
    assert!(slow(policy(&registry)).await.is_ok());
}

#[tokio::test(start_paused = true)]
async fn max_elapsed_bounds_the_whole_call_after_load_and_reload() {
    let keys = |t: &str| {
        format!(
            "max_attempts = 100\nbackoff = \"constant\"\nbase = \"100ms\"\njitter = \"none\"\nmax_elapsed = \"{t}\""
        )
    };
    let registry = load(&doc(&keys("350ms")));
    // Attempts at 0, 100, 200 and 300 ms; the next delay would end past 350 ms.
    assert_eq!(failing_call(&policy(&registry), boom).await.0, 4);
    reload(&registry, &doc(&keys("550ms")));
    assert_eq!(failing_call(&policy(&registry), boom).await.0, 6);
}

#[tokio::test(start_paused = true)]
async fn max_retry_after_bounds_the_hint_waited_for_after_load_and_reload() {
    fn hinted() -> Error {
        boom().with_retry_after(Duration::from_secs(2))
    }
    let keys = |t: &str| format!("max_attempts = 2\nmax_retry_after = \"{t}\"");
    let registry = load(&doc(&keys("1s")));
    assert_eq!(failing_call(&policy(&registry), hinted).await.0, 1);
    reload(&registry, &doc(&keys("5s")));
    let (attempts, gaps) = failing_call(&policy(&registry), hinted).await;
    assert_eq!(attempts, 2);
    assert!(gaps[0] >= Duration::from_secs(2), "the hint is honoured");
}

#[tokio::test(start_paused = true)]
async fn budget_names_the_budget_spent_after_load_and_reload() {
    let text = |budget: &str| {
        format!(
            "[retry_budget.empty]\nmin_per_sec = 0\nratio = 0.0\n\n\
             [retry_budget.roomy]\nmin_per_sec = 100\n\n\
             [retry.p]\nmax_attempts = 3\nbase = \"1ms\"\nbudget = \"{budget}\"\n"
        )
    };
    let registry = load(&text("empty"));
    let err = policy(&registry)
        .run(|| async { Err::<(), _>(boom()) })
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::RetryBudgetExhausted);
    assert_eq!(err.attempts(), Some(1));

    reload(&registry, &text("roomy"));
    let roomy = registry.get_retry_budget("roomy").unwrap();
    let before = roomy.balance();
    assert_eq!(failing_call(&policy(&registry), boom).await.0, 3);
    assert!(
        roomy.balance() < before - 1.0,
        "the two retries came from `roomy`: {before} -> {}",
        roomy.balance()
    );

    reload(&registry, &text("none"));
    for _ in 0..3 {
        assert_eq!(failing_call(&policy(&registry), boom).await.0, 3);
    }
    assert_eq!(policy(&registry).budget().map(|b| b.balance()), None);

    reload(&registry, &text("own"));
    let own = policy(&registry).budget().expect("its own budget");
    assert_eq!(own.min_per_sec(), 10, "the budget defaults");
}

#[tokio::test(start_paused = true)]
async fn a_reload_keeps_the_own_budgets_balance() {
    let text = |n: u32| format!("[retry.p]\nmax_attempts = {n}\nbase = \"1ms\"\n");
    let registry = load(&text(3));
    let budget = policy(&registry).budget().unwrap();
    for _ in 0..20 {
        budget.deposit();
    }
    let balance = budget.balance();
    reload(&registry, &text(4));
    let after = policy(&registry).budget().unwrap();
    assert_eq!(
        after.balance(),
        balance,
        "the same budget, its deposits kept"
    );
}

#[tokio::test(start_paused = true)]
async fn a_reload_reaches_handles_given_out_before_it() {
    let registry = load(&doc("max_attempts = 2\nbase = \"1ms\""));
    let held = policy(&registry);
    reload(&registry, &doc("max_attempts = 4\nbase = \"1ms\""));
    let calls = AtomicU32::new(0);
    let _ = held
        .run(|| {
            calls.fetch_add(1, Ordering::Relaxed);
            async { Err::<(), _>(boom()) }
        })
        .await;
    assert_eq!(calls.load(Ordering::Relaxed), 4);
    assert_eq!(held.max_attempts(), 4);
}
