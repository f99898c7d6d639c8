//! Every invalid configuration is a `ConfigError` naming its option, never a panic.

use std::time::Duration;

use resilience_core::Primitive;
use resilience_core::config::ConfigError;
use resilience_core::rate_limit::{
    KeyedRateLimiter, MAX_KEYS, MAX_RATE, RateLimiter, RateLimiterBuilder,
};

fn refused(builder: RateLimiterBuilder) -> ConfigError {
    builder.build().expect_err("an invalid config is refused")
}

fn assert_refused(builder: RateLimiterBuilder, option: &str, says: &str) {
    let err = refused(builder);
    assert_eq!(err.primitive(), Primitive::RateLimit);
    assert_eq!(err.option(), option, "{err}");
    assert!(err.to_string().contains(says), "{err}");
}

#[test]
fn a_limiter_without_a_rate_is_refused() {
    assert_refused(RateLimiter::builder(), "rate", "must be set");
}

#[test]
fn nan_infinite_zero_and_negative_rates_are_refused() {
    for rate in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 0.0, -0.0, -5.0] {
        assert_refused(
            RateLimiter::builder().rate(rate),
            "rate",
            "finite number above 0",
        );
    }
}

#[test]
fn absurd_rates_are_refused() {
    assert_refused(
        RateLimiter::builder().rate(MAX_RATE * 2.0),
        "rate",
        "at most",
    );
    // Less than one unit a year: a unit mistake, not a limit.
    assert_refused(
        RateLimiter::builder().rate(1e-9),
        "rate",
        "less than one unit per year",
    );
    assert!(RateLimiter::builder().rate(MAX_RATE).build().is_ok());
}

#[test]
fn a_limit_of_zero_units_or_over_a_zero_window_is_refused() {
    assert_refused(
        RateLimiter::builder().limit(0, Duration::from_secs(1)),
        "limit",
        "at least 1",
    );
    assert_refused(
        RateLimiter::builder().limit(10, Duration::ZERO),
        "limit",
        "window longer than zero",
    );
}

#[test]
fn a_zero_burst_is_refused() {
    assert_refused(
        RateLimiter::builder().rate(10.0).burst(0),
        "burst",
        "at least 1",
    );
}

#[test]
fn a_burst_that_takes_more_than_a_year_to_refill_is_refused() {
    assert_refused(
        RateLimiter::builder().rate(1.0).burst(u32::MAX),
        "burst",
        "more than a year",
    );
}

#[test]
fn a_max_wait_longer_than_a_year_is_refused() {
    assert_refused(
        RateLimiter::builder()
            .rate(1.0)
            .max_wait(Duration::from_secs(400 * 24 * 3600)),
        "max_wait",
        "at most a year",
    );
}

#[test]
fn keyed_limits_need_between_one_and_max_keys() {
    for max_keys in [0, MAX_KEYS + 1] {
        let err = KeyedRateLimiter::<String>::builder()
            .rate(1.0)
            .max_keys(max_keys)
            .build()
            .unwrap_err();
        assert_eq!(err.option(), "max_keys", "{err}");
    }
    // The rate checks are the same as for the unkeyed limiter.
    let err = KeyedRateLimiter::<String>::builder()
        .rate(f64::NAN)
        .build()
        .unwrap_err();
    assert_eq!(err.option(), "rate");
}

#[test]
fn defaults_follow_the_documented_anchors() {
    let per_second = RateLimiter::builder().rate(2.5).build().unwrap();
    assert_eq!(
        per_second.quota().burst(),
        3,
        "one second's worth, rounded up"
    );
    assert_eq!(per_second.quota().interval(), Duration::from_millis(400));
    assert_eq!(per_second.max_wait(), Duration::ZERO);
    assert_eq!(per_second.name().as_str(), "default");

    let per_minute = RateLimiter::builder()
        .limit(120, Duration::from_secs(60))
        .build()
        .unwrap();
    assert_eq!(per_minute.quota().burst(), 120, "the window's units");
    assert_eq!(per_minute.quota().refill(), Duration::from_secs(60));
    assert_eq!(per_minute.quota().window_secs(), 60);
    assert!((per_minute.quota().rate() - 2.0).abs() < 1e-9);

    let keyed = KeyedRateLimiter::<String>::builder()
        .rate(1.0)
        .build()
        .unwrap();
    assert_eq!(keyed.max_keys(), 100_000);
}
