//! Invalid configurations are clear errors, never panics.

use std::time::Duration;

use resilience_core::Primitive;
use resilience_core::retry::{Backoff, RetryPolicy};

const MS: Duration = Duration::from_millis(1);

#[test]
fn invalid_policies_are_config_errors_naming_the_option() {
    let cases = [
        (
            RetryPolicy::builder().max_attempts(0),
            "max_attempts",
            "must be at least 1, got 0",
        ),
        (
            RetryPolicy::builder().backoff(Backoff::exponential_with_factor(MS, f64::NAN)),
            "backoff.factor",
            "must be a finite number >= 1, got NaN",
        ),
        (
            RetryPolicy::builder().backoff(Backoff::exponential_with_factor(MS, -2.0)),
            "backoff.factor",
            "must be a finite number >= 1, got -2",
        ),
        (
            RetryPolicy::builder().backoff(Backoff::exponential_with_factor(MS, f64::INFINITY)),
            "backoff.factor",
            "must be a finite number >= 1, got inf",
        ),
        (
            RetryPolicy::builder()
                .backoff(Backoff::constant(Duration::from_secs(2)))
                .max_delay(Duration::from_secs(1)),
            "backoff.base",
            "(2s) must not exceed `max_delay` (1s)",
        ),
        (
            RetryPolicy::builder().attempt_timeout(Duration::ZERO),
            "attempt_timeout",
            "must be longer than zero",
        ),
        (
            RetryPolicy::builder().max_elapsed(Duration::ZERO),
            "max_elapsed",
            "must be longer than zero",
        ),
    ];
    for (builder, option, problem) in cases {
        let err = builder.build().unwrap_err();
        assert_eq!(err.primitive(), Primitive::Retry);
        assert_eq!((err.option(), err.problem()), (option, problem));
    }
}

#[test]
fn the_message_names_primitive_option_and_value() {
    let err = RetryPolicy::builder().max_attempts(0).build().unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid retry config: `max_attempts` must be at least 1, got 0"
    );
}

#[test]
fn defaults_are_the_documented_ones() {
    let policy = RetryPolicy::builder().build().unwrap();
    assert_eq!(policy.max_attempts(), 3);
    assert_eq!(policy.backoff(), Backoff::exponential(100 * MS));
    assert_eq!(policy.max_delay(), Duration::from_secs(10));
    assert_eq!(policy.max_retry_after(), Duration::from_secs(10));
    assert_eq!(policy.name().as_str(), "default");
    let budget = policy.budget().expect("a budget by default");
    assert_eq!(budget.ttl(), Duration::from_secs(10));
    assert_eq!((budget.min_per_sec(), budget.ratio()), (10, 0.2));
}

#[test]
fn a_single_attempt_and_zero_delays_are_valid() {
    let policy = RetryPolicy::builder()
        .max_attempts(1)
        .backoff(Backoff::constant(Duration::ZERO))
        .max_delay(Duration::ZERO)
        .build();
    assert!(policy.is_ok());
}
