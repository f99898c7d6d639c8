//! Bad `retry` and `deadline` tables: each gives an error naming the key, and the running
//! configuration is unchanged; their environment overrides.

use std::time::Duration;

use resilience_core::Registry;
use resilience_core::settings::Settings;

use crate::{load, toml};

const RUNNING: &str = "
[retry.payments]
max_attempts = 3
budget = \"none\"

[deadline.api]
default_timeout = \"2s\"
";

/// Asserts `registry` still runs the configuration of [`RUNNING`].
fn unchanged(registry: &Registry) {
    let payments = registry.get_retry_policy("payments").unwrap();
    assert_eq!(payments.max_attempts(), 3);
    assert!(payments.budget().is_none());
    let api = registry.get_deadline("api").unwrap();
    assert_eq!(api.default_timeout(), Some(Duration::from_secs(2)));
}

/// Documents that parse but do not validate: (document, path, problem).
const INVALID: &[(&str, &str, &str)] = &[
    (
        "[retry.payments]\nmax_attempts = 0",
        "retry.payments.max_attempts",
        "must be at least 1, got 0",
    ),
    (
        "[retry.payments]\nfactor = nan",
        "retry.payments.factor",
        "must be a finite number >= 1, got NaN",
    ),
    (
        "[retry.payments]\nfactor = inf",
        "retry.payments.factor",
        "must be a finite number >= 1, got inf",
    ),
    (
        "[retry.payments]\nfactor = 0.5",
        "retry.payments.factor",
        "must be a finite number >= 1, got 0.5",
    ),
    (
        "[retry.payments]\nbase = \"2s\"\nmax_delay = \"1s\"",
        "retry.payments.base",
        "(2s) must not exceed `max_delay` (1s)",
    ),
    (
        "[retry.payments]\nbackoff = \"constant\"\nstep = \"1s\"",
        "retry.payments.step",
        "applies to `backoff = \"linear\"` only",
    ),
    (
        "[retry.payments]\nbackoff = \"linear\"\nfactor = 3.0",
        "retry.payments.factor",
        "applies to `backoff = \"exponential\"` only",
    ),
    (
        "[retry.payments]\nattempt_timeout = \"0s\"",
        "retry.payments.attempt_timeout",
        "must be longer than zero",
    ),
    (
        "[retry.payments]\nmax_elapsed = \"0s\"",
        "retry.payments.max_elapsed",
        "must be longer than zero",
    ),
    (
        "[retry.payments]\nbudget = \"ghost\"",
        "retry.payments.budget",
        "no retry budget named `ghost` in the document or the registry",
    ),
    (
        "[retry.defaults]\nmax_attempts = 0\n[retry.search]",
        "retry.search.max_attempts",
        "must be at least 1, got 0",
    ),
    (
        "[deadline.api]\nmax = \"0s\"",
        "deadline.api.max",
        "must be longer than zero",
    ),
    (
        "[deadline.api]\ndefault_timeout = \"0s\"",
        "deadline.api.default_timeout",
        "must be longer than zero",
    ),
    (
        "[deadline.api]\ndefault_timeout = \"2m\"",
        "deadline.api.default_timeout",
        "(120s) must not exceed `max` (60s)",
    ),
];

#[test]
fn invalid_retry_and_deadline_values_name_the_key_and_change_nothing() {
    let registry = load(RUNNING);
    for (text, path, problem) in INVALID {
        // A valid change elsewhere in the same document is not applied either.
        let text =
            format!("[retry.other]\nmax_attempts = 1\n[deadline.other]\nmax = \"1s\"\n{text}");
        let err = registry.apply(&toml(&text).unwrap()).unwrap_err();
        assert_eq!((err.path(), err.problem()), (*path, *problem), "{text}");
        assert_eq!(err.to_string(), format!("{path}: {problem}"));
        unchanged(&registry);
        assert!(registry.get_retry_policy("other").is_none(), "{text}");
        assert!(registry.get_deadline("other").is_none(), "{text}");
    }
}

#[test]
fn validate_checks_retry_and_deadline_tables_without_a_registry() {
    let bad = toml("[retry.payments]\nmax_attempts = 0").unwrap();
    assert_eq!(
        bad.validate().unwrap_err().path(),
        "retry.payments.max_attempts"
    );
    let bad = toml("[deadline.api]\ndefault_timeout = \"2m\"").unwrap();
    assert_eq!(
        bad.validate().unwrap_err().path(),
        "deadline.api.default_timeout"
    );
    // A budget of the document's resolves; one only a registry could hold is left to
    // `apply`.
    let good = toml("[retry_budget.b]\n[retry.payments]\nbudget = \"b\"").unwrap();
    assert_eq!(good.validate(), Ok(()));
}

/// Documents that do not parse into settings: (document, path, part of the problem).
const MALFORMED: &[(&str, &str, &str)] = &[
    (
        "[retry.payments]\nmax_attempt = 3",
        "retry.payments.max_attempt",
        "unknown field `max_attempt`",
    ),
    (
        "[retry.payments]\njitter = \"fuzzy\"",
        "retry.payments.jitter",
        "expected one of \"none\", \"full\", \"equal\", \"decorrelated\", got \"fuzzy\"",
    ),
    (
        "[retry.payments]\nbackoff = \"fibonacci\"",
        "retry.payments.backoff",
        "expected one of \"constant\", \"linear\", \"exponential\", got \"fibonacci\"",
    ),
    (
        "[retry.payments]\nbudget = \"\"",
        "retry.payments.budget",
        "expected a retry budget's name, \"own\", \"none\" or false",
    ),
    (
        "[retry.payments]\nmax_attempts = -3",
        "retry.payments.max_attempts",
        "invalid value: integer `-3`",
    ),
    (
        "[deadline.api]\ntimeout = \"1s\"",
        "deadline.api.timeout",
        "unknown field `timeout`",
    ),
    (
        "[deadline.api]\nmax = \"forever\"",
        "deadline.api.max",
        "expected a duration such as \"250ms\" or \"2s\", got \"forever\"",
    ),
];

#[test]
fn malformed_retry_and_deadline_tables_name_the_key() {
    for (text, path, problem) in MALFORMED {
        let err = toml(text).unwrap_err();
        assert_eq!(err.path(), *path, "{text}: {err}");
        assert!(err.problem().contains(problem), "{text}: {err}");
    }
}

#[test]
fn environment_overrides_set_retry_and_deadline_keys() {
    let settings = toml("[retry.payments]\nmax_attempts = 2\n")
        .unwrap()
        .with_overrides([
            ("RESILIENCE__RETRY__PAYMENTS__MAX_ATTEMPTS", "5"),
            ("RESILIENCE__RETRY__PAYMENTS__JITTER", "none"),
            ("RESILIENCE__RETRY__DEFAULTS__BUDGET", "none"),
            ("RESILIENCE__DEADLINE__API__DEFAULT_TIMEOUT", "750ms"),
        ])
        .unwrap();
    let registry = Registry::from_settings(&settings).unwrap();
    let payments = registry.get_retry_policy("payments").unwrap();
    assert_eq!(payments.max_attempts(), 5);
    assert_eq!(payments.jitter(), resilience_core::retry::Jitter::None);
    assert!(payments.budget().is_none());
    let api = registry.get_deadline("api").unwrap();
    assert_eq!(api.default_timeout(), Some(Duration::from_millis(750)));

    let err = Settings::default()
        .with_overrides([("RESILIENCE__RETRY__PAYMENTS__BACKOFF", "random")])
        .unwrap_err();
    assert_eq!(
        err.path(),
        "retry.payments.backoff (from RESILIENCE__RETRY__PAYMENTS__BACKOFF)"
    );
    let err = Settings::default()
        .with_overrides([("RESILIENCE__DEADLINE__API__DEFAULT", "1s")])
        .unwrap_err();
    assert_eq!(
        err.problem(),
        "unknown key `default`, expected one of: default_timeout, max"
    );
}

#[test]
fn retry_and_deadline_tables_serialize_back_to_the_same_document() {
    let text = "[retry.payments]\nmax_attempts = 4\nbackoff = \"linear\"\nbase = \"50ms\"\n\
                step = \"25ms\"\njitter = \"decorrelated\"\nbudget = \"shared\"\n\
                [deadline.api]\ndefault_timeout = \"1s 500ms\"\nmax = \"10s\"\n";
    let settings = toml(text).unwrap();
    let round_trip = toml(&::toml::to_string(&settings).unwrap()).unwrap();
    assert_eq!(round_trip, settings);
}

#[test]
fn the_readme_example_sets_a_retry_policy_and_a_deadline() {
    let registry = load(crate::readme_example());
    let payments = registry.get_retry_policy("payments").unwrap();
    assert_eq!(payments.max_attempts(), 4);
    assert_eq!(payments.attempt_timeout(), Some(Duration::from_millis(300)));
    let shared = registry.get_retry_budget("payments").unwrap();
    shared.deposit();
    let balance = shared.balance();
    assert_eq!(
        payments.budget().map(|b| b.balance()),
        Some(balance),
        "the document's `payments` budget"
    );
    let api = registry.get_deadline("api").unwrap();
    assert_eq!(
        (api.default_timeout(), api.max()),
        (Some(Duration::from_secs(2)), Duration::from_secs(30))
    );
}
