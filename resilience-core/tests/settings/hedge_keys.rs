//! Each hedge key changes behaviour after load and after reload; bad hedge documents
//! change nothing.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use resilience_core::Registry;
use resilience_core::hedge::Hedge;
use tokio::time::{Instant, sleep};

use crate::{load, reload, toml};

fn hedge(registry: &Registry) -> Hedge {
    registry.get_hedge("search").unwrap()
}

/// One call whose first attempt takes 2 s and every hedge 10 ms: how long it took.
async fn slow_first(h: &Hedge) -> Duration {
    let calls = AtomicU32::new(0);
    let start = Instant::now();
    h.run(|| async {
        let first = calls.fetch_add(1, Ordering::Relaxed) == 0;
        sleep(Duration::from_millis(if first { 2_000 } else { 10 })).await;
        Ok::<_, std::io::Error>(())
    })
    .await
    .unwrap();
    start.elapsed()
}

/// One call, every attempt taking `took`: feeds the latency window.
async fn call_taking(h: &Hedge, took: Duration) {
    h.run(|| async move {
        sleep(took).await;
        Ok::<_, std::io::Error>(())
    })
    .await
    .unwrap();
}

#[tokio::test(start_paused = true)]
async fn delay_sets_when_the_hedge_goes_out_after_load_and_reload() {
    let registry = load("[hedge.search]\ndelay = \"50ms\"\nbudget = false\n");
    assert_eq!(
        slow_first(&hedge(&registry)).await,
        Duration::from_millis(60)
    );
    reload(
        &registry,
        "[hedge.search]\ndelay = \"20ms\"\nbudget = false\n",
    );
    assert_eq!(
        slow_first(&hedge(&registry)).await,
        Duration::from_millis(30)
    );
}

#[tokio::test(start_paused = true)]
async fn percentile_picks_the_quantile_of_the_window_after_load_and_reload() {
    let doc = |q: f64| format!("[hedge.search]\npercentile = {q}\nmin_samples = 10\n");
    let registry = load(&doc(0.4));
    let h = hedge(&registry);
    for i in 0..10 {
        let ms = if i < 5 { 10 } else { 1_000 };
        call_taking(&h, Duration::from_millis(ms)).await;
    }
    let low = h.delay().unwrap();
    assert!(low > Duration::from_millis(10) && low <= Duration::from_micros(12_500));
    reload(&registry, &doc(0.9));
    // The window kept its samples; the new quantile reads them.
    let high = h.delay().unwrap();
    assert!(high > Duration::from_secs(1) && high <= Duration::from_millis(1250));
}

#[tokio::test(start_paused = true)]
async fn window_sets_how_long_latencies_count_after_load_and_reload() {
    let doc = |w: &str| format!("[hedge.search]\nwindow = \"{w}\"\nmin_samples = 1\n");
    let registry = load(&doc("1s"));
    let h = hedge(&registry);
    call_taking(&h, Duration::from_millis(10)).await;
    assert!(h.delay().is_some());
    sleep(Duration::from_secs(2)).await;
    assert_eq!(h.delay(), None, "out of a 1s window");
    reload(&registry, &doc("10s"));
    call_taking(&h, Duration::from_millis(10)).await;
    sleep(Duration::from_secs(2)).await;
    assert!(h.delay().is_some(), "still in a 10s window");
}

#[tokio::test(start_paused = true)]
async fn min_samples_holds_hedges_back_until_the_window_has_them_after_load_and_reload() {
    let doc = |n: u32| format!("[hedge.search]\nmin_samples = {n}\n");
    let registry = load(&doc(3));
    let h = hedge(&registry);
    for _ in 0..2 {
        call_taking(&h, Duration::from_millis(10)).await;
    }
    assert_eq!(h.delay(), None);
    call_taking(&h, Duration::from_millis(10)).await;
    assert!(h.delay().is_some());
    reload(&registry, &doc(5));
    assert_eq!(h.delay(), None, "3 samples kept, 5 needed");
    for _ in 0..2 {
        call_taking(&h, Duration::from_millis(10)).await;
    }
    assert!(h.delay().is_some());
}

#[tokio::test(start_paused = true)]
async fn min_delay_is_the_shortest_percentile_delay_after_load_and_reload() {
    let doc = |d: &str| format!("[hedge.search]\nmin_samples = 1\nmin_delay = \"{d}\"\n");
    let registry = load(&doc("50ms"));
    let h = hedge(&registry);
    call_taking(&h, Duration::from_millis(10)).await;
    assert_eq!(h.delay(), Some(Duration::from_millis(50)));
    reload(&registry, &doc("80ms"));
    assert_eq!(h.delay(), Some(Duration::from_millis(80)));
}

/// How many attempts one call makes when every attempt takes a second.
async fn attempts(h: &Hedge) -> u32 {
    let calls = AtomicU32::new(0);
    h.run(|| async {
        calls.fetch_add(1, Ordering::Relaxed);
        sleep(Duration::from_secs(1)).await;
        Ok::<_, std::io::Error>(())
    })
    .await
    .unwrap();
    calls.load(Ordering::Relaxed)
}

#[tokio::test(start_paused = true)]
async fn max_hedges_bounds_the_attempts_of_a_call_after_load_and_reload() {
    let doc =
        |n: u32| format!("[hedge.search]\ndelay = \"10ms\"\nmax_hedges = {n}\nbudget = false\n");
    let registry = load(&doc(1));
    assert_eq!(attempts(&hedge(&registry)).await, 2);
    reload(&registry, &doc(3));
    assert_eq!(attempts(&hedge(&registry)).await, 4);
}

/// A retry budget that allows one retry per deposit and nothing else.
const ONE_PER_CALL: &str = "[retry_budget.shared]\nmin_per_sec = 0\nratio = 1.0\n";

#[tokio::test(start_paused = true)]
async fn deposit_decides_whether_a_call_pays_for_its_hedge_after_load_and_reload() {
    let doc = |deposit: bool| {
        format!(
            "{ONE_PER_CALL}[hedge.search]\ndelay = \"50ms\"\nbudget = \"shared\"\ndeposit = {deposit}\n"
        )
    };
    let registry = load(&doc(true));
    let h = hedge(&registry);
    assert_eq!(slow_first(&h).await, Duration::from_millis(60), "paid for");
    reload(&registry, &doc(false));
    assert_eq!(slow_first(&h).await, Duration::from_secs(2), "not paid for");
    assert_eq!(h.snapshot().refused, 1);
    reload(&registry, &doc(true));
    assert_eq!(slow_first(&h).await, Duration::from_millis(60));
}

#[tokio::test(start_paused = true)]
async fn budget_names_the_retry_budget_hedges_spend_after_load_and_reload() {
    let doc = |budget: &str| {
        format!(
            "{ONE_PER_CALL}[hedge.search]\ndelay = \"50ms\"\ndeposit = false\nbudget = {budget}\n"
        )
    };
    let registry = load(&doc("\"shared\""));
    let h = hedge(&registry);
    let shared = registry.get_retry_budget("shared").unwrap();
    shared.deposit();
    assert_eq!(slow_first(&h).await, Duration::from_millis(60));
    assert_eq!(shared.balance(), 0.0, "the hedge spent the shared budget");
    assert_eq!(slow_first(&h).await, Duration::from_secs(2), "now empty");
    reload(&registry, &doc("false"));
    assert!(h.budget().is_none());
    assert_eq!(slow_first(&h).await, Duration::from_millis(60), "no budget");
    reload(&registry, &doc("\"own\""));
    assert_eq!(
        slow_first(&h).await,
        Duration::from_millis(60),
        "its own budget: 10 retries a second"
    );
    shared.deposit();
    reload(&registry, &doc("\"shared\""));
    assert_eq!(slow_first(&h).await, Duration::from_millis(60));
    assert_eq!(shared.balance(), 0.0, "back on the shared budget");
}

#[tokio::test(start_paused = true)]
async fn a_reload_keeps_the_counts_and_the_calls_under_way() {
    let registry = load("[hedge.search]\ndelay = \"50ms\"\nbudget = false\n");
    let h = hedge(&registry);
    let running = tokio::spawn({
        let h = h.clone();
        async move { slow_first(&h).await }
    });
    sleep(Duration::from_millis(55)).await;
    assert_eq!(h.snapshot().sent, 1, "the hedge is out");
    reload(
        &registry,
        "[hedge.search]\ndelay = \"1s\"\nbudget = false\n",
    );
    assert_eq!(running.await.unwrap(), Duration::from_millis(60));
    let snapshot = h.snapshot();
    assert_eq!((snapshot.sent, snapshot.won), (1, 1));
}

#[test]
fn invalid_hedge_documents_name_the_key_and_change_nothing() {
    let running = "[hedge.search]\ndelay = \"50ms\"\nmax_hedges = 2\n";
    let registry = load(running);
    let cases = [
        (
            "percentile = 1.5",
            "percentile",
            "must be in (0, 1), got 1.5",
        ),
        (
            "percentile = nan",
            "percentile",
            "must be in (0, 1), got NaN",
        ),
        ("delay = \"0s\"", "delay", "must be longer than zero"),
        ("max_hedges = 0", "max_hedges", "must be at least 1, got 0"),
        (
            "max_hedges = 11",
            "max_hedges",
            "(11) must not exceed `its limit` (10)",
        ),
        (
            "min_samples = 0",
            "min_samples",
            "must be at least 1, got 0",
        ),
        (
            "window = \"2h\"",
            "window",
            "must be between 1s and 1h, got 7200s",
        ),
        (
            "delay = \"1s\"\npercentile = 0.9",
            "percentile",
            "cannot be set beside `delay`: choose one delay",
        ),
        (
            "delay = \"1s\"\nwindow = \"5s\"",
            "window",
            "shapes a `percentile` delay and has no effect beside a fixed `delay`",
        ),
        (
            "budget = \"nowhere\"",
            "budget",
            "no retry budget named `nowhere` in the document or the registry",
        ),
    ];
    for (keys, key, problem) in cases {
        let text = format!("[bulkhead.other]\n[hedge.search]\n{keys}\n");
        let err = registry.apply(&toml(&text).unwrap()).unwrap_err();
        assert_eq!(
            (err.path(), err.problem()),
            (format!("hedge.search.{key}").as_str(), problem),
            "{text}"
        );
        let h = hedge(&registry);
        assert_eq!(h.max_hedges(), 2, "{text}");
        assert_eq!(h.delay(), Some(Duration::from_millis(50)), "{text}");
        assert!(registry.get_bulkhead("other").is_none(), "{text}");
    }
    let err = toml("[hedge.search]\nbudget = 3\n").unwrap_err();
    assert_eq!(err.path(), "hedge.search.budget");
    assert!(
        err.problem().contains("expected a retry budget's name"),
        "{err}"
    );
    let err = toml("[hedge.search]\nmax_hedge = 3\n").unwrap_err();
    assert_eq!(err.path(), "hedge.search.max_hedge");
}

#[test]
fn a_budget_created_in_code_can_be_named() {
    let registry = Registry::new();
    let budget = registry
        .retry_budget("payments", |b| b.min_per_sec(3))
        .unwrap();
    registry
        .apply(&toml("[hedge.search]\nbudget = \"payments\"\n").unwrap())
        .unwrap();
    assert_eq!(hedge(&registry).budget().unwrap().min_per_sec(), 3);
    budget.deposit();
    assert_eq!(
        hedge(&registry).budget().unwrap().balance(),
        budget.balance()
    );
}

#[test]
fn environment_overrides_reach_hedge_keys() {
    let settings = toml("[hedge.search]\ndelay = \"50ms\"\n")
        .unwrap()
        .with_overrides([
            ("RESILIENCE__HEDGE__SEARCH__DELAY", "20ms"),
            ("RESILIENCE__HEDGE__SEARCH__BUDGET", "none"),
            ("RESILIENCE__HEDGE__DEFAULTS__MAX_HEDGES", "3"),
        ])
        .unwrap();
    let registry = Registry::from_settings(&settings).unwrap();
    let h = hedge(&registry);
    assert_eq!(h.delay(), Some(Duration::from_millis(20)));
    assert!(h.budget().is_none());
    assert_eq!(h.max_hedges(), 3);
    let err = settings
        .with_overrides([("RESILIENCE__HEDGE__SEARCH__DEPOSIT", "yes")])
        .unwrap_err();
    assert_eq!(err.problem(), "expected true or false, got \"yes\"");
}
