//! Every invalid option is a clear `ConfigError`, never a panic.

use std::time::Duration;

use resilience_core::Primitive;
use resilience_core::circuit_breaker::{CircuitBreaker, CircuitBreakerBuilder};

use crate::ms;

fn rejects(builder: CircuitBreakerBuilder, option: &str, says: &str) {
    let err = builder.build().expect_err("invalid config must not build");
    assert_eq!(err.primitive(), Primitive::CircuitBreaker);
    assert_eq!(err.option(), option, "{err}");
    let text = err.to_string();
    assert!(
        text.starts_with("invalid circuit_breaker config: `"),
        "{text}"
    );
    assert!(text.contains(says), "{text:?} should mention {says:?}");
}

#[test]
fn defaults_build() {
    let breaker = CircuitBreaker::builder().build().unwrap();
    assert_eq!(breaker.name(), "default");
}

#[test]
fn nan_zero_and_above_one_rates_are_rejected() {
    let b = CircuitBreaker::builder;
    rejects(
        b().failure_rate_threshold(f64::NAN),
        "failure_rate_threshold",
        "NaN",
    );
    rejects(
        b().failure_rate_threshold(0.0),
        "failure_rate_threshold",
        "(0, 1]",
    );
    rejects(
        b().failure_rate_threshold(1.5),
        "failure_rate_threshold",
        "1.5",
    );
    rejects(
        b().failure_rate_threshold(-0.1),
        "failure_rate_threshold",
        "(0, 1]",
    );
    rejects(
        b().slow_calls(ms(100), f64::NAN),
        "slow_call_rate_threshold",
        "NaN",
    );
    rejects(
        b().slow_calls(ms(100), 2.0),
        "slow_call_rate_threshold",
        "(0, 1]",
    );
    rejects(
        b().open_duration_growth(f64::NAN, ms(1)),
        "open_duration_growth",
        "NaN",
    );
    rejects(
        b().open_duration_growth(0.5, Duration::from_secs(600)),
        "open_duration_growth",
        ">= 1",
    );
    rejects(
        b().open_duration_growth(f64::INFINITY, Duration::from_secs(600)),
        "open_duration_growth",
        "inf",
    );
}

#[test]
fn zero_counts_and_durations_are_rejected() {
    let b = CircuitBreaker::builder;
    rejects(b().count_window(0), "count_window", "at least 1");
    rejects(
        b().time_window(Duration::ZERO),
        "time_window",
        "longer than zero",
    );
    rejects(
        b().time_window_buckets(Duration::from_secs(10), 0),
        "time_window_buckets",
        "at least 1",
    );
    rejects(b().minimum_calls(0), "minimum_calls", "at least 1");
    rejects(
        b().consecutive_failures(0),
        "consecutive_failures",
        "at least 1",
    );
    rejects(
        b().open_duration(Duration::ZERO),
        "open_duration",
        "longer than zero",
    );
    rejects(b().half_open_calls(0), "half_open_calls", "at least 1");
    rejects(
        b().max_half_open_duration(Duration::ZERO),
        "max_half_open_duration",
        "longer than zero",
    );
    rejects(
        b().slow_calls(Duration::ZERO, 0.5),
        "slow_call_duration",
        "longer than zero",
    );
}

#[test]
fn windows_and_budgets_beyond_their_limits_are_rejected() {
    let b = CircuitBreaker::builder;
    rejects(b().count_window(1 << 20), "count_window", "at most 1048575");
    rejects(
        b().half_open_calls(70_000),
        "half_open_calls",
        "at most 65535",
    );
    rejects(
        b().time_window_buckets(Duration::from_millis(10), 100),
        "time_window_buckets",
        "at least 1ms",
    );
    assert!(b().count_window((1 << 20) - 1).build().is_ok());
    assert!(b().half_open_calls(65_535).build().is_ok());
}

/// A time window's buckets are bounded like a count window's slots (both at about 1 MiB):
/// an unbounded count let one option ask for gigabytes.
#[test]
fn time_window_buckets_are_capped_like_the_count_window() {
    let b = CircuitBreaker::builder;
    let hour = Duration::from_secs(3600);
    rejects(
        b().time_window_buckets(hour, 32_769),
        "time_window_buckets",
        "at most 32768",
    );
    rejects(
        b().time_window_buckets(Duration::from_secs(86_400 * 365 * 200), u32::MAX),
        "time_window_buckets",
        "at most 32768",
    );
    assert!(b().time_window_buckets(hour, 32_768).build().is_ok());
}

#[test]
fn inverted_bounds_are_rejected() {
    let b = CircuitBreaker::builder;
    rejects(
        b().count_window(10).minimum_calls(11),
        "minimum_calls",
        "must not exceed `count_window`",
    );
    rejects(
        b().open_duration(Duration::from_secs(60))
            .open_duration_growth(2.0, Duration::from_secs(30)),
        "open_duration",
        "must not exceed",
    );
    // A count window smaller than the default minimum takes the window size as minimum.
    assert!(b().count_window(10).build().is_ok());
}

#[test]
fn a_breaker_that_can_never_trip_is_rejected() {
    rejects(
        CircuitBreaker::builder().without_failure_rate(),
        "failure_rate_threshold",
        "could never trip",
    );
    assert!(
        CircuitBreaker::builder()
            .without_failure_rate()
            .consecutive_failures(5)
            .build()
            .is_ok()
    );
}

#[test]
fn probe_timeout_of_zero_or_past_max_half_open_duration_is_rejected() {
    let b = CircuitBreaker::builder;
    rejects(b().probe_timeout(Duration::ZERO), "probe_timeout", "zero");
    rejects(
        b().max_half_open_duration(Duration::from_secs(10))
            .probe_timeout(Duration::from_secs(11)),
        "probe_timeout",
        "max_half_open_duration",
    );
    rejects(
        b().probe_timeout(Duration::MAX),
        "probe_timeout",
        "max_half_open_duration",
    );
    assert!(b().probe_timeout(ms(200)).build().is_ok());
}
