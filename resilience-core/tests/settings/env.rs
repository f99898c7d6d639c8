//! Environment overrides.

use std::time::Duration;

use resilience_core::Registry;

use crate::toml;

#[test]
fn overrides_set_keys_of_instances_and_defaults_over_the_document() {
    let settings = toml("[circuit_breaker.payments]\nfailure_rate_threshold = 0.5\n")
        .unwrap()
        .with_overrides([
            (
                "RESILIENCE__CIRCUIT_BREAKER__PAYMENTS__FAILURE_RATE_THRESHOLD",
                "0.3",
            ),
            ("RESILIENCE__BULKHEAD__DEFAULTS__MAX_CONCURRENT", "3"),
            ("RESILIENCE__BULKHEAD__SEARCH__RETRY_AFTER", "250ms"),
            ("HOME", "/root"),
        ])
        .unwrap();
    let payments = &settings.circuit_breaker.instances["payments"];
    assert_eq!(payments.failure_rate_threshold, Some(0.3));
    let registry = Registry::from_settings(&settings).unwrap();
    let search = registry.get_bulkhead("search").unwrap();
    assert_eq!(search.capacity(), 3);
    assert_eq!(search.retry_after(), Duration::from_millis(250));
}

#[test]
fn bad_overrides_name_the_key_and_the_variable() {
    let cases = [
        (
            "RESILIENCE__BULKHEAD__SEARCH__MAX_CONCURRENT",
            "many",
            "bulkhead.search.max_concurrent (from RESILIENCE__BULKHEAD__SEARCH__MAX_CONCURRENT)",
            "expected a whole number, got \"many\"",
        ),
        (
            "RESILIENCE__BULKHEAD__SEARCH__MAX_CONCURENT",
            "4",
            "bulkhead.search.max_concurent (from RESILIENCE__BULKHEAD__SEARCH__MAX_CONCURENT)",
            "unknown key `max_concurent`, expected one of: max_concurrent, max_waiting, max_wait, retry_after",
        ),
        (
            "RESILIENCE__BREAKER__SEARCH__COUNT_WINDOW",
            "4",
            "breaker.search.count_window (from RESILIENCE__BREAKER__SEARCH__COUNT_WINDOW)",
            "unknown kind `breaker`, expected one of: circuit_breaker, bulkhead, rate_limiter, retry_budget, throttle, hedge, adaptive_bulkhead, fault, keyed_rate_limiter, redis_rate_limiter",
        ),
        (
            "RESILIENCE__BULKHEAD__MAX_CONCURRENT",
            "4",
            "RESILIENCE__BULKHEAD__MAX_CONCURRENT",
            "expected RESILIENCE__<KIND>__<NAME>__<KEY>",
        ),
        (
            "RESILIENCE__BULKHEAD__SEARCH__MAX_WAIT",
            "later",
            "bulkhead.search.max_wait (from RESILIENCE__BULKHEAD__SEARCH__MAX_WAIT)",
            "expected a duration such as \"250ms\" or \"2s\", got \"later\"",
        ),
    ];
    for (var, value, path, problem) in cases {
        let err = resilience_core::settings::Settings::default()
            .with_overrides([(var, value)])
            .unwrap_err();
        assert_eq!(err.path(), path);
        assert!(err.problem().starts_with(problem), "{err}");
    }
}

#[test]
fn an_override_value_is_validated_when_applied() {
    let settings = resilience_core::settings::Settings::default()
        .with_overrides([(
            "RESILIENCE__CIRCUIT_BREAKER__PAYMENTS__FAILURE_RATE_THRESHOLD",
            "NaN",
        )])
        .unwrap();
    let err = Registry::from_settings(&settings).unwrap_err();
    assert_eq!(
        err.to_string(),
        "circuit_breaker.payments.failure_rate_threshold: must be in (0, 1], got NaN"
    );
}

#[test]
fn a_variable_addresses_an_instance_whatever_its_case_and_its_dashes_or_dots() {
    let settings = toml(
        "[bulkhead.Payments-API]\nmax_concurrent = 8\n\
         [circuit_breaker.\"orders.v2\"]\ncount_window = 20\n",
    )
    .unwrap()
    .with_overrides([
        ("RESILIENCE__BULKHEAD__PAYMENTS_API__MAX_CONCURRENT", "4"),
        ("RESILIENCE__CIRCUIT_BREAKER__ORDERS_V2__COUNT_WINDOW", "50"),
        ("RESILIENCE__BULKHEAD__NEW_ONE__MAX_CONCURRENT", "2"),
    ])
    .unwrap();
    assert_eq!(
        settings.bulkhead.instances["Payments-API"].max_concurrent,
        Some(4)
    );
    assert_eq!(
        settings.circuit_breaker.instances["orders.v2"].count_window,
        Some(50)
    );
    // No instance matches: a new one, in lower case.
    assert_eq!(
        settings.bulkhead.instances["new_one"].max_concurrent,
        Some(2)
    );
    assert_eq!(settings.bulkhead.instances.len(), 2);
    let registry = Registry::from_settings(&settings).unwrap();
    assert_eq!(registry.get_bulkhead("Payments-API").unwrap().capacity(), 4);
}

#[test]
fn a_variable_matching_two_instances_is_an_error_naming_them() {
    let err = toml("[bulkhead.a-b]\nmax_concurrent = 1\n[bulkhead.\"a.b\"]\nmax_concurrent = 2\n")
        .unwrap()
        .with_overrides([("RESILIENCE__BULKHEAD__A_B__MAX_CONCURRENT", "4")])
        .unwrap_err();
    assert_eq!(
        err.path(),
        "bulkhead.a_b.max_concurrent (from RESILIENCE__BULKHEAD__A_B__MAX_CONCURRENT)"
    );
    assert!(err.problem().contains("a-b, a.b"), "{err}");
}
