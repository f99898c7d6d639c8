//! Each adaptive bulkhead key changes behaviour after load and after reload; bad adaptive
//! bulkhead documents change nothing.

use std::time::Duration;

use resilience_core::Registry;
use resilience_core::adaptive::AdaptiveBulkhead;
use tokio::time::{Instant, sleep};

use crate::{load, reload, toml};

fn bulkhead(registry: &Registry) -> AdaptiveBulkhead {
    registry.get_adaptive_bulkhead("search").unwrap()
}

/// `k` calls at once, each taking `rtt` and failing if `fail`.
async fn round(b: &AdaptiveBulkhead, k: usize, rtt: Duration, fail: bool) {
    let calls: Vec<_> = (0..k)
        .map(|_| {
            let b = b.clone();
            tokio::spawn(async move {
                let _ = b
                    .call(async move {
                        sleep(rtt).await;
                        if fail {
                            Err(std::io::Error::other("down"))
                        } else {
                            Ok(())
                        }
                    })
                    .await;
            })
        })
        .collect();
    for call in calls {
        call.await.unwrap();
    }
}

const MS: fn(u64) -> Duration = Duration::from_millis;

/// `[adaptive_bulkhead.search]` with `keys`, and each of `base` that `keys` does not set.
fn doc(base: &[(&str, &str)], keys: &str) -> String {
    let mut text = String::from("[adaptive_bulkhead.search]\n");
    for (key, value) in base {
        if !keys
            .lines()
            .any(|line| line.starts_with(&format!("{key} =")))
        {
            text += &format!("{key} = {value}\n");
        }
    }
    text + keys + "\n"
}

/// An AIMD bulkhead whose windows end on every round of 10 calls of 100 ms, with `keys`.
fn aimd(keys: &str) -> String {
    let base = [
        ("algorithm", "\"aimd\""),
        ("min_limit", "1"),
        ("max_limit", "100"),
        ("min_window", "\"100ms\""),
        ("max_window", "\"100ms\""),
        ("window_samples", "10"),
    ];
    doc(&base, keys)
}

/// The same with Vegas, smoothing 1 unless `keys` says otherwise.
fn vegas(keys: &str) -> String {
    let base = [
        ("algorithm", "\"vegas\""),
        ("min_limit", "1"),
        ("max_limit", "100"),
        ("min_window", "\"100ms\""),
        ("max_window", "\"100ms\""),
        ("window_samples", "10"),
        ("smoothing", "1.0"),
    ];
    doc(&base, keys)
}

#[tokio::test(start_paused = true)]
async fn algorithm_is_swapped_by_a_reload_keeping_the_current_limit() {
    let registry = load(&aimd("initial_limit = 10"));
    let b = bulkhead(&registry);
    assert_eq!(b.snapshot().algorithm, "aimd");
    round(&b, 10, MS(100), true).await;
    assert_eq!(b.limit(), 9, "AIMD backs off by 0.9");
    reload(&registry, &vegas("initial_limit = 20"));
    assert_eq!(b.snapshot().algorithm, "vegas");
    assert_eq!(b.limit(), 9, "the current limit is carried over");
    // Vegas now: its first window sets its no-load latency; then a failing window takes
    // one step (log10 of the limit, at least 1) off.
    // (Rounds of five: nine slots now, and a window needs ten calls.)
    for _ in 0..2 {
        round(&b, 5, MS(100), true).await;
    }
    assert_eq!(b.limit(), 9);
    for _ in 0..2 {
        round(&b, 5, MS(100), true).await;
    }
    assert_eq!(b.limit(), 8);
}

#[tokio::test(start_paused = true)]
async fn initial_limit_sets_where_a_new_instance_starts_and_a_reload_keeps_the_current_one() {
    let registry = load(&aimd("initial_limit = 7"));
    assert_eq!(bulkhead(&registry).limit(), 7);
    let text = aimd("initial_limit = 12")
        + "[adaptive_bulkhead.other]\nalgorithm = \"aimd\"\nmin_limit = 1\ninitial_limit = 12\n";
    reload(&registry, &text);
    assert_eq!(
        bulkhead(&registry).limit(),
        7,
        "a live instance keeps its limit"
    );
    assert_eq!(registry.get_adaptive_bulkhead("other").unwrap().limit(), 12);
}

#[tokio::test(start_paused = true)]
async fn min_limit_is_the_floor_of_the_limit_after_load_and_reload() {
    let registry = load(&aimd("initial_limit = 10\nmin_limit = 10"));
    let b = bulkhead(&registry);
    round(&b, 10, MS(100), true).await;
    assert_eq!(b.limit(), 10, "held at the floor");
    reload(&registry, &aimd("initial_limit = 10"));
    round(&b, 10, MS(100), true).await;
    assert_eq!(b.limit(), 9);
    reload(&registry, &aimd("initial_limit = 20\nmin_limit = 15"));
    assert_eq!(b.limit(), 15, "a higher floor lifts the limit at once");
}

#[tokio::test(start_paused = true)]
async fn max_limit_is_the_ceiling_and_a_lower_one_holds_once_calls_above_it_finish() {
    let registry = load(&aimd("initial_limit = 10\nmax_limit = 10"));
    let b = bulkhead(&registry);
    round(&b, 10, MS(100), false).await;
    assert_eq!(b.limit(), 10, "held at the ceiling");
    let held: Vec<_> = (0..10)
        .map(|_| b.bulkhead().try_acquire().unwrap())
        .collect();
    reload(&registry, &aimd("initial_limit = 5\nmax_limit = 5"));
    assert_eq!(b.limit(), 5);
    assert_eq!(b.in_flight(), 10, "permits held are kept");
    let mut held = held;
    held.truncate(5);
    assert_eq!(b.in_flight(), 5);
    assert!(b.bulkhead().try_acquire().is_err(), "the new ceiling holds");
    held.pop();
    assert!(b.bulkhead().try_acquire().is_ok());
    drop(held);
    reload(&registry, &aimd("initial_limit = 5\nmax_limit = 6"));
    // Five slots: two rounds of five make a window of ten.
    round(&b, 5, MS(100), false).await;
    round(&b, 5, MS(100), false).await;
    assert_eq!(b.limit(), 6, "grows to the new ceiling");
}

#[tokio::test(start_paused = true)]
async fn backoff_ratio_sets_how_far_a_failure_drops_the_limit_after_load_and_reload() {
    let registry = load(&aimd("initial_limit = 100\nbackoff_ratio = 0.5"));
    let b = bulkhead(&registry);
    round(&b, 10, MS(100), true).await;
    assert_eq!(b.limit(), 50);
    reload(&registry, &aimd("initial_limit = 100\nbackoff_ratio = 0.9"));
    round(&b, 10, MS(100), true).await;
    assert_eq!(b.limit(), 45);
}

#[tokio::test(start_paused = true)]
async fn timeout_sets_the_latency_aimd_backs_off_at_after_load_and_reload() {
    let registry = load(&aimd("initial_limit = 10\ntimeout = \"1s\""));
    let b = bulkhead(&registry);
    round(&b, 10, MS(200), false).await;
    assert_eq!(b.limit(), 11, "200 ms is fast: one more slot");
    reload(&registry, &aimd("initial_limit = 10\ntimeout = \"150ms\""));
    round(&b, 10, MS(200), false).await;
    assert_eq!(b.limit(), 9, "200 ms is slow now: ⌊11 × 0.9⌋");
}

/// Vegas' first window sets its no-load latency (100 ms), the second is `rtt` long.
async fn vegas_windows(b: &AdaptiveBulkhead, rtt: Duration) {
    round(b, 10, MS(100), false).await;
    round(b, 10, rtt, false).await;
}

#[tokio::test(start_paused = true)]
async fn alpha_sets_the_queue_vegas_grows_under_after_load_and_reload() {
    // At 125 ms against 100 ms, 20 × 0.2 = 4 calls are queueing.
    let registry = load(&vegas("alpha = 3.0\nbeta = 6.0"));
    let b = bulkhead(&registry);
    vegas_windows(&b, MS(125)).await;
    assert_eq!(b.limit(), 20, "4 is between alpha and beta: hold");
    reload(&registry, &vegas("alpha = 5.0\nbeta = 6.0"));
    vegas_windows(&b, MS(125)).await;
    assert_eq!(b.limit(), 21, "4 is under alpha: grow by one");
}

#[tokio::test(start_paused = true)]
async fn beta_sets_the_queue_vegas_shrinks_over_after_load_and_reload() {
    // At 200 ms against 100 ms, 20 × 0.5 = 10 calls are queueing.
    let registry = load(&vegas("alpha = 3.0\nbeta = 12.0"));
    let b = bulkhead(&registry);
    vegas_windows(&b, MS(200)).await;
    assert_eq!(b.limit(), 20, "10 is under beta: hold");
    reload(&registry, &vegas("alpha = 3.0\nbeta = 6.0"));
    vegas_windows(&b, MS(200)).await;
    assert_eq!(b.limit(), 19, "10 is over beta: shrink by one");
}

#[tokio::test(start_paused = true)]
async fn smoothing_sets_how_far_vegas_moves_toward_its_target_after_load_and_reload() {
    // Rounds of 13 calls, windows of 13: enough in flight for a limit up to 26 to move.
    let windows = |b: AdaptiveBulkhead| async move {
        for _ in 0..2 {
            round(&b, 13, MS(100), false).await;
        }
        b.limit()
    };
    // No queue at all: the target is the limit + beta (6) × log10 step (1).
    let registry = load(&vegas("window_samples = 13\nsmoothing = 1.0"));
    assert_eq!(
        windows(bulkhead(&registry)).await,
        26,
        "all the way to 20 + 6"
    );
    reload(&registry, &vegas("window_samples = 13\nsmoothing = 0.5"));
    assert_eq!(windows(bulkhead(&registry)).await, 29, "half way to 26 + 6");
}

#[tokio::test(start_paused = true)]
async fn probe_multiplier_sets_how_often_vegas_forgets_its_no_load_latency_after_load_and_reload() {
    // 100 ms first, then 125 ms for good: 4 queueing, held, until a probe takes 125 ms
    // as the new no-load latency and the queue reads 0 (grow).
    let run = |b: AdaptiveBulkhead| async move {
        round(&b, 10, MS(100), false).await;
        for _ in 0..25 {
            round(&b, 10, MS(125), false).await;
        }
        b.limit()
    };
    let registry = load(&vegas("probe_multiplier = 1000"));
    assert_eq!(run(bulkhead(&registry)).await, 20, "no probe in 25 windows");
    reload(&registry, &vegas("probe_multiplier = 1"));
    assert!(
        run(bulkhead(&registry)).await > 20,
        "a probe within 20 windows"
    );
}

#[tokio::test(start_paused = true)]
async fn window_samples_sets_the_calls_a_window_needs_after_load_and_reload() {
    let registry = load(&aimd("initial_limit = 10\nwindow_samples = 5"));
    let b = bulkhead(&registry);
    round(&b, 5, MS(100), true).await;
    assert_eq!(b.limit(), 9);
    reload(&registry, &aimd("initial_limit = 10\nwindow_samples = 20"));
    for _ in 0..3 {
        round(&b, 5, MS(100), true).await;
        assert_eq!(b.limit(), 9, "fewer than 20 calls: the window goes on");
    }
    round(&b, 5, MS(100), true).await;
    assert_eq!(b.limit(), 8);
}

/// How many times the limit moved while failing calls of 50 ms ran one after another
/// for `period` (few enough per window that every call is timed).
async fn moves(b: &AdaptiveBulkhead, period: Duration) -> usize {
    let end = Instant::now() + period;
    let mut moved = 0;
    while Instant::now() < end {
        let before = b.limit();
        round(b, 1, MS(50), true).await;
        moved += usize::from(b.limit() != before);
    }
    moved
}

#[tokio::test(start_paused = true)]
async fn min_window_sets_the_shortest_window_after_load_and_reload() {
    let doc = |min: &str| {
        format!(
            "[adaptive_bulkhead.search]\nalgorithm = \"aimd\"\nmin_limit = 1\nmax_limit = 1000\n\
             initial_limit = 1000\nbackoff_ratio = 0.99\nwindow_samples = 1\n\
             min_window = \"{min}\"\nmax_window = \"10s\"\n"
        )
    };
    let registry = load(&doc("1s"));
    let b = bulkhead(&registry);
    // Windows end at 1 s and 2 s.
    assert_eq!(
        moves(&b, Duration::from_millis(2500)).await,
        2,
        "one move a second"
    );
    reload(&registry, &doc("100ms"));
    let moved = moves(&b, Duration::from_secs(2)).await;
    assert!((15..=20).contains(&moved), "{moved}: one move every 100 ms");
}

#[tokio::test(start_paused = true)]
async fn max_window_sets_the_longest_window_after_load_and_reload() {
    // Calls of 2 s make windows of 4 s (twice the shortest latency), unless capped.
    let doc = |max: &str| {
        format!(
            "[adaptive_bulkhead.search]\nalgorithm = \"aimd\"\nmin_limit = 1\nmax_limit = 1000\n\
             initial_limit = 64\nbackoff_ratio = 0.5\nwindow_samples = 1\n\
             min_window = \"100ms\"\nmax_window = \"{max}\"\n"
        )
    };
    let registry = load(&doc("10s"));
    let b = bulkhead(&registry);
    for _ in 0..4 {
        round(&b, 1, Duration::from_secs(2), true).await;
    }
    assert_eq!(b.limit(), 16, "two windows in 8 s");
    reload(&registry, &doc("1s"));
    for _ in 0..3 {
        round(&b, 1, Duration::from_secs(2), true).await;
    }
    assert_eq!(b.limit(), 2, "a window per call");
}

/// A bulkhead of one slot, with `keys`.
fn one_slot(keys: &str) -> String {
    let base = [
        ("algorithm", "\"aimd\""),
        ("min_limit", "1"),
        ("max_limit", "1"),
        ("initial_limit", "1"),
    ];
    doc(&base, keys)
}

#[tokio::test(start_paused = true)]
async fn max_waiting_bounds_the_queue_after_load_and_reload() {
    let queued = |b: AdaptiveBulkhead| {
        let _held = b.bulkhead().try_acquire().unwrap();
        let mut waiting = Vec::new();
        while let acquire = b.bulkhead().acquire()
            && acquire.is_waiting()
        {
            waiting.push(acquire);
            assert!(waiting.len() <= 100);
        }
        waiting.len()
    };
    let registry = load(&one_slot("max_waiting = 1\nmax_wait = \"1s\""));
    assert_eq!(queued(bulkhead(&registry)), 1);
    reload(&registry, &one_slot("max_waiting = 3\nmax_wait = \"1s\""));
    assert_eq!(queued(bulkhead(&registry)), 3);
}

#[tokio::test(start_paused = true)]
async fn max_wait_bounds_the_wait_in_the_queue_after_load_and_reload() {
    async fn waited(b: AdaptiveBulkhead) -> Duration {
        let _held = b.bulkhead().try_acquire().unwrap();
        let start = Instant::now();
        assert!(b.bulkhead().acquire().await.is_err());
        start.elapsed()
    }
    let registry = load(&one_slot("max_waiting = 1\nmax_wait = \"1s\""));
    assert_eq!(waited(bulkhead(&registry)).await, Duration::from_secs(1));
    reload(&registry, &one_slot("max_waiting = 1\nmax_wait = \"3s\""));
    assert_eq!(waited(bulkhead(&registry)).await, Duration::from_secs(3));
}

#[test]
fn retry_after_is_the_hint_of_a_rejection_after_load_and_reload() {
    let hint = |b: AdaptiveBulkhead| {
        let _held = b.bulkhead().try_acquire().unwrap();
        b.bulkhead().try_acquire().unwrap_err().retry_after()
    };
    let registry = load(&one_slot("retry_after = \"3s\""));
    assert_eq!(hint(bulkhead(&registry)), Some(Duration::from_secs(3)));
    reload(&registry, &one_slot("retry_after = \"7s\""));
    assert_eq!(hint(bulkhead(&registry)), Some(Duration::from_secs(7)));
}

#[test]
fn invalid_adaptive_bulkhead_documents_name_the_key_and_change_nothing() {
    let registry = load(&one_slot(""));
    let cases = [
        (
            "min_limit = 5\nmax_limit = 2",
            "min_limit",
            "(5) must not exceed `max_limit` (2)",
        ),
        ("min_limit = 0", "min_limit", "must be at least 1, got 0"),
        (
            "initial_limit = 50",
            "initial_limit",
            "(50) must be within `min_limit` (1) and `max_limit` (1)",
        ),
        (
            "backoff_ratio = 1.0",
            "backoff_ratio",
            "must be in [0.5, 1), got 1",
        ),
        (
            "backoff_ratio = nan",
            "backoff_ratio",
            "must be in [0.5, 1), got NaN",
        ),
        ("timeout = \"0s\"", "timeout", "must be longer than zero"),
        (
            "alpha = 1.0",
            "alpha",
            "is an option of algorithm `vegas`, and this one's is `aimd`",
        ),
        (
            "window_samples = 0",
            "window_samples",
            "must be at least 1, got 0",
        ),
        (
            "min_window = \"0s\"",
            "min_window",
            "must be longer than zero",
        ),
        (
            "min_window = \"2s\"\nmax_window = \"1s\"",
            "min_window",
            "(2s) must not exceed `max_window` (1s)",
        ),
        (
            "max_waiting = 4",
            "max_wait",
            "must be longer than zero when `max_waiting` is 4: waiters would give up at once",
        ),
    ];
    for (keys, key, problem) in cases {
        let text = format!("[bulkhead.other]\n{}", one_slot(keys));
        let err = registry.apply(&toml(&text).unwrap()).unwrap_err();
        assert_eq!(
            (err.path(), err.problem()),
            (format!("adaptive_bulkhead.search.{key}").as_str(), problem),
            "{text}"
        );
        assert_eq!(bulkhead(&registry).snapshot().max_limit, 1, "{text}");
        assert!(registry.get_bulkhead("other").is_none(), "{text}");
    }
    let vegas_cases = [
        ("alpha = nan", "alpha"),
        ("alpha = 3.0\nbeta = 2.0", "beta"),
        ("smoothing = 0.0", "smoothing"),
        ("probe_multiplier = 0", "probe_multiplier"),
        ("backoff_ratio = 0.7", "backoff_ratio"),
    ];
    for (keys, key) in vegas_cases {
        let text = format!("[adaptive_bulkhead.search]\n{keys}\n");
        let err = registry.apply(&toml(&text).unwrap()).unwrap_err();
        assert_eq!(
            err.path(),
            format!("adaptive_bulkhead.search.{key}"),
            "{err}"
        );
        assert_eq!(bulkhead(&registry).snapshot().algorithm, "aimd", "{text}");
    }
    let err = toml("[adaptive_bulkhead.search]\nalgorithm = \"cubic\"\n").unwrap_err();
    assert_eq!(err.path(), "adaptive_bulkhead.search.algorithm");
    assert!(
        err.problem()
            .contains("expected \"aimd\" or \"vegas\", got \"cubic\""),
        "{err}"
    );
}

#[test]
fn environment_overrides_reach_adaptive_bulkhead_keys() {
    let settings = toml("[adaptive_bulkhead.search]\nmin_limit = 1\n")
        .unwrap()
        .with_overrides([
            ("RESILIENCE__ADAPTIVE_BULKHEAD__SEARCH__ALGORITHM", "aimd"),
            ("RESILIENCE__ADAPTIVE_BULKHEAD__SEARCH__INITIAL_LIMIT", "4"),
        ])
        .unwrap();
    let registry = Registry::from_settings(&settings).unwrap();
    let b = bulkhead(&registry);
    assert_eq!((b.snapshot().algorithm, b.limit()), ("aimd", 4));
    let err = settings
        .with_overrides([("RESILIENCE__ADAPTIVE_BULKHEAD__SEARCH__ALGORITHM", "cubic")])
        .unwrap_err();
    assert_eq!(
        err.problem(),
        "expected \"aimd\" or \"vegas\", got \"cubic\""
    );
}
