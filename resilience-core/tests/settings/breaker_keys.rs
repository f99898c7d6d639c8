//! Each circuit breaker key changes behaviour after load and after reload.

use std::time::Duration;

use resilience_core::circuit_breaker::State;
use resilience_core::{CircuitBreaker, ErrorKind, Registry};
use tokio::time::{advance, sleep};

use crate::{load, reload};

fn breaker(registry: &Registry) -> CircuitBreaker {
    registry.get_circuit_breaker("cb").unwrap()
}

fn doc(keys: &str) -> String {
    format!("[circuit_breaker.cb]\n{keys}\n")
}

fn succeed(b: &CircuitBreaker, n: usize) {
    for _ in 0..n {
        b.try_acquire().unwrap().record_success();
    }
}

/// Failures recorded (after `successes` successes) until the breaker opens.
fn failures_to_trip(b: &CircuitBreaker, successes: usize) -> usize {
    b.reset();
    succeed(b, successes);
    for n in 1..=1000 {
        b.try_acquire().unwrap().record_failure();
        if b.state() == State::Open {
            return n;
        }
    }
    panic!("never tripped");
}

/// Loads `before`, measures, reloads `after`, measures again.
fn trips(before: &str, after: &str, successes: usize) -> (usize, usize) {
    let registry = load(&doc(before));
    let first = failures_to_trip(&breaker(&registry), successes);
    reload(&registry, &doc(after));
    (first, failures_to_trip(&breaker(&registry), successes))
}

#[test]
fn count_window_sizes_the_window_after_load_and_reload() {
    assert_eq!(trips("count_window = 3", "count_window = 6", 0), (3, 6));
}

#[test]
fn minimum_calls_delays_the_first_trip_after_load_and_reload() {
    assert_eq!(
        trips(
            "count_window = 10\nminimum_calls = 2",
            "count_window = 10\nminimum_calls = 4",
            0
        ),
        (2, 4)
    );
}

#[test]
fn failure_rate_threshold_sets_the_trip_rate_after_load_and_reload() {
    // 7 successes then failures in a window of 10: the rate reaches 0.3 at the 3rd
    // failure and 0.9 at the 9th.
    assert_eq!(
        trips(
            "count_window = 10\nfailure_rate_threshold = 0.3",
            "count_window = 10\nfailure_rate_threshold = 0.9",
            7
        ),
        (3, 9)
    );
}

#[test]
fn consecutive_failures_trips_on_a_run_after_load_and_reload() {
    assert_eq!(
        trips("consecutive_failures = 2", "consecutive_failures = 5", 0),
        (2, 5)
    );
}

/// Whether two failures `gap` apart trip a breaker needing two calls.
async fn two_failures_trip(b: &CircuitBreaker, first_at: Duration, gap: Duration) -> bool {
    b.reset();
    advance(first_at).await;
    b.try_acquire().unwrap().record_failure();
    advance(gap).await;
    b.try_acquire().unwrap().record_failure();
    b.state() == State::Open
}

#[tokio::test(start_paused = true)]
async fn time_window_keeps_failures_for_its_duration_after_load_and_reload() {
    let registry = load(&doc("time_window = \"1s\"\nminimum_calls = 2"));
    let gap = Duration::from_secs(2);
    assert!(!two_failures_trip(&breaker(&registry), Duration::ZERO, gap).await);
    reload(&registry, &doc("time_window = \"10s\"\nminimum_calls = 2"));
    assert!(two_failures_trip(&breaker(&registry), Duration::ZERO, gap).await);
}

#[tokio::test(start_paused = true)]
async fn time_window_buckets_set_how_coarsely_failures_expire_after_load_and_reload() {
    // A failure late in a 1s window, and another 150ms later: one bucket has moved on
    // by then (the first failure is gone), ten buckets of 100ms still hold it.
    let registry = load(&doc(
        "time_window = \"1s\"\ntime_window_buckets = 1\nminimum_calls = 2",
    ));
    let b = breaker(&registry);
    let gap = Duration::from_millis(150);
    assert!(!two_failures_trip(&b, Duration::from_millis(900), gap).await);
    reload(
        &registry,
        &doc("time_window = \"1s\"\ntime_window_buckets = 10\nminimum_calls = 2"),
    );
    assert!(two_failures_trip(&b, Duration::ZERO, gap).await);
}

/// Whether calls taking `took` trip a breaker on slow calls.
async fn slow_calls_trip(b: &CircuitBreaker, slow: usize, fast: usize) -> bool {
    b.reset();
    for i in 0..slow + fast {
        let took = if i < slow {
            Duration::from_millis(200)
        } else {
            Duration::ZERO
        };
        b.call(async move {
            sleep(took).await;
            Ok::<_, std::io::Error>(())
        })
        .await
        .unwrap();
    }
    b.state() == State::Open
}

#[tokio::test(start_paused = true)]
async fn slow_call_duration_sets_what_is_slow_after_load_and_reload() {
    let registry = load(&doc(
        "count_window = 2\nslow_call_duration = \"100ms\"\nslow_call_rate_threshold = 0.5",
    ));
    assert!(slow_calls_trip(&breaker(&registry), 2, 0).await);
    reload(
        &registry,
        &doc("count_window = 2\nslow_call_duration = \"500ms\"\nslow_call_rate_threshold = 0.5"),
    );
    assert!(!slow_calls_trip(&breaker(&registry), 2, 0).await);
}

#[tokio::test(start_paused = true)]
async fn slow_call_rate_threshold_sets_the_slow_share_that_trips_after_load_and_reload() {
    let keys = |rate: f64| {
        doc(&format!(
            "count_window = 4\nfailure_rate_threshold = 1.0\nslow_call_duration = \"100ms\"\n\
             slow_call_rate_threshold = {rate}"
        ))
    };
    let registry = load(&keys(0.25));
    assert!(slow_calls_trip(&breaker(&registry), 1, 3).await);
    reload(&registry, &keys(0.5));
    assert!(!slow_calls_trip(&breaker(&registry), 1, 3).await);
}

/// Trips the breaker with one failure; how long until it admits a call again.
async fn open_for(b: &CircuitBreaker) -> Duration {
    b.reset();
    b.try_acquire().unwrap().record_failure();
    assert_eq!(b.state(), State::Open);
    b.snapshot().retry_after.unwrap()
}

#[tokio::test(start_paused = true)]
async fn open_duration_sets_how_long_it_stays_open_after_load_and_reload() {
    let registry = load(&doc("consecutive_failures = 1\nopen_duration = \"2s\""));
    let b = breaker(&registry);
    assert_eq!(open_for(&b).await, Duration::from_secs(2));
    advance(Duration::from_millis(1999)).await;
    assert!(b.try_acquire().is_err());
    advance(Duration::from_millis(1)).await;
    assert!(b.try_acquire().is_ok());
    reload(
        &registry,
        &doc("consecutive_failures = 1\nopen_duration = \"5s\""),
    );
    assert_eq!(open_for(&b).await, Duration::from_secs(5));
}

/// The length of the second opening: trip, wait, fail the probe.
async fn second_opening(b: &CircuitBreaker) -> Duration {
    let first = open_for(b).await;
    advance(first).await;
    b.try_acquire().unwrap().record_failure();
    assert_eq!(b.state(), State::Open);
    b.snapshot().retry_after.unwrap()
}

#[tokio::test(start_paused = true)]
async fn open_duration_growth_multiplies_reopenings_after_load_and_reload() {
    let keys = |growth: f64| {
        doc(&format!(
            "consecutive_failures = 1\nopen_duration = \"1s\"\nopen_duration_growth = {growth}\n\
             open_duration_max = \"1m\""
        ))
    };
    let registry = load(&keys(3.0));
    assert_eq!(
        second_opening(&breaker(&registry)).await,
        Duration::from_secs(3)
    );
    reload(&registry, &keys(2.0));
    assert_eq!(
        second_opening(&breaker(&registry)).await,
        Duration::from_secs(2)
    );
}

#[tokio::test(start_paused = true)]
async fn open_duration_max_caps_the_growth_after_load_and_reload() {
    let keys = |max: &str| {
        doc(&format!(
            "consecutive_failures = 1\nopen_duration = \"1s\"\nopen_duration_growth = 10.0\n\
             open_duration_max = \"{max}\""
        ))
    };
    let registry = load(&keys("4s"));
    assert_eq!(
        second_opening(&breaker(&registry)).await,
        Duration::from_secs(4)
    );
    reload(&registry, &keys("6s"));
    assert_eq!(
        second_opening(&breaker(&registry)).await,
        Duration::from_secs(6)
    );
}

/// How many probes half-open admits at once.
async fn probes(b: &CircuitBreaker) -> usize {
    let wait = open_for(b).await;
    advance(wait).await;
    let mut held = Vec::new();
    while let Ok(p) = b.try_acquire() {
        held.push(p);
        assert!(held.len() <= 1000);
    }
    held.len()
}

#[tokio::test(start_paused = true)]
async fn half_open_calls_sets_the_probes_after_load_and_reload() {
    let keys = |n: u32| {
        doc(&format!(
            "consecutive_failures = 1\nopen_duration = \"1s\"\nhalf_open_calls = {n}"
        ))
    };
    let registry = load(&keys(2));
    assert_eq!(probes(&breaker(&registry)).await, 2);
    reload(&registry, &keys(4));
    assert_eq!(probes(&breaker(&registry)).await, 4);
}

/// The state after waiting `waited` half-open behind a probe that never ends.
async fn after_stalled_probe(b: &CircuitBreaker, waited: Duration) -> State {
    let wait = open_for(b).await;
    advance(wait).await;
    let probe = b.try_acquire().unwrap();
    advance(waited).await;
    let _ = b.try_acquire();
    let state = b.state();
    probe.cancel();
    state
}

#[tokio::test(start_paused = true)]
async fn max_half_open_duration_reopens_a_stalled_half_open_after_load_and_reload() {
    let keys = |max: &str| {
        doc(&format!(
            "consecutive_failures = 1\nopen_duration = \"1s\"\nhalf_open_calls = 1\n\
             max_half_open_duration = \"{max}\""
        ))
    };
    let registry = load(&keys("2s"));
    let waited = Duration::from_secs(3);
    assert_eq!(
        after_stalled_probe(&breaker(&registry), waited).await,
        State::Open
    );
    reload(&registry, &keys("10s"));
    assert_eq!(
        after_stalled_probe(&breaker(&registry), waited).await,
        State::HalfOpen
    );
}

/// Whether a half-open probe taking 3s is cut off.
async fn probe_cut_off(b: &CircuitBreaker) -> bool {
    let wait = open_for(b).await;
    advance(wait).await;
    let result = b
        .call(async {
            sleep(Duration::from_secs(3)).await;
            Ok::<_, std::io::Error>(())
        })
        .await;
    matches!(result, Err(e) if e.kind() == ErrorKind::Timeout)
}

#[tokio::test(start_paused = true)]
async fn probe_timeout_cuts_off_slow_probes_after_load_and_reload() {
    let keys = |limit: &str| {
        doc(&format!(
            "consecutive_failures = 1\nopen_duration = \"1s\"\nprobe_timeout = \"{limit}\""
        ))
    };
    let registry = load(&keys("1s"));
    assert!(probe_cut_off(&breaker(&registry)).await);
    reload(&registry, &keys("5s"));
    assert!(!probe_cut_off(&breaker(&registry)).await);
}

#[tokio::test(start_paused = true)]
async fn a_reload_keeps_an_open_breaker_open_and_the_window_when_its_shape_is_unchanged() {
    let registry = load(&doc("count_window = 4\nconsecutive_failures = 1"));
    let b = breaker(&registry);
    b.try_acquire().unwrap().record_failure();
    assert_eq!(b.state(), State::Open);
    reload(
        &registry,
        &doc("count_window = 4\nconsecutive_failures = 3"),
    );
    assert_eq!(b.state(), State::Open, "state survives a reload");

    b.reset();
    b.try_acquire().unwrap().record_failure();
    b.try_acquire().unwrap().record_failure();
    // Same window shape: the two failures stay counted; 3 of 4 calls tripping at 0.75.
    reload(
        &registry,
        &doc("count_window = 4\nminimum_calls = 3\nfailure_rate_threshold = 0.75"),
    );
    b.try_acquire().unwrap().record_failure();
    assert_eq!(b.state(), State::Open);
}
