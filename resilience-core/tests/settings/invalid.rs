//! Bad documents: each gives an error naming the key, and the running configuration is
//! unchanged.

use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use resilience_core::Registry;
use resilience_core::telemetry::metric;

use crate::{load, toml};

const RUNNING: &str = "
[circuit_breaker.payments]
count_window = 4
consecutive_failures = 2

[bulkhead.payments]
max_concurrent = 4

[retry_budget.payments]
min_per_sec = 1
";

/// Asserts `registry` still runs the configuration of [`RUNNING`].
fn unchanged(registry: &Registry) {
    let pool = registry.get_bulkhead("payments").unwrap();
    assert_eq!(pool.capacity(), 4);
    let breaker = registry.get_circuit_breaker("payments").unwrap();
    breaker.reset();
    breaker.try_acquire().unwrap().record_failure();
    assert!(
        breaker.try_acquire().is_ok(),
        "one failure does not trip it"
    );
    breaker.try_acquire().unwrap().record_failure();
    assert!(breaker.try_acquire().is_err(), "two in a row do");
    breaker.reset();
    assert_eq!(
        registry.get_retry_budget("payments").unwrap().min_per_sec(),
        1
    );
    assert!(registry.get_rate_limiter("payments").is_none());
}

/// Documents that parse but do not validate: (document, path, problem).
const INVALID: &[(&str, &str, &str)] = &[
    (
        "[circuit_breaker.payments]\nfailure_rate_threshold = 1.5",
        "circuit_breaker.payments.failure_rate_threshold",
        "must be in (0, 1], got 1.5",
    ),
    (
        "[circuit_breaker.payments]\nfailure_rate_threshold = nan",
        "circuit_breaker.payments.failure_rate_threshold",
        "must be in (0, 1], got NaN",
    ),
    (
        "[circuit_breaker.payments]\nslow_call_duration = \"1s\"\nslow_call_rate_threshold = -0.5",
        "circuit_breaker.payments.slow_call_rate_threshold",
        "must be in (0, 1], got -0.5",
    ),
    (
        "[circuit_breaker.payments]\nopen_duration_growth = nan\nopen_duration_max = \"1m\"",
        "circuit_breaker.payments.open_duration_growth",
        "must be a finite number >= 1, got NaN",
    ),
    (
        "[circuit_breaker.payments]\ncount_window = 0",
        "circuit_breaker.payments.count_window",
        "must be at least 1, got 0",
    ),
    (
        "[circuit_breaker.payments]\ncount_window = 5\nminimum_calls = 10",
        "circuit_breaker.payments.minimum_calls",
        "(10) must not exceed `count_window` (5)",
    ),
    (
        "[circuit_breaker.payments]\nopen_duration = \"10s\"\nopen_duration_growth = 2.0\nopen_duration_max = \"5s\"",
        "circuit_breaker.payments.open_duration",
        "(10s) must not exceed `open_duration_growth max` (5s)",
    ),
    (
        "[circuit_breaker.payments]\nmax_half_open_duration = \"1s\"\nprobe_timeout = \"2s\"",
        "circuit_breaker.payments.probe_timeout",
        "(2s) must not exceed `max_half_open_duration` (1s)",
    ),
    (
        "[circuit_breaker.payments]\nhalf_open_calls = 0",
        "circuit_breaker.payments.half_open_calls",
        "must be at least 1, got 0",
    ),
    (
        "[circuit_breaker.payments]\nopen_duration = \"0s\"",
        "circuit_breaker.payments.open_duration",
        "must be longer than zero",
    ),
    (
        "[circuit_breaker.payments]\ncount_window = 10\ntime_window = \"10s\"",
        "circuit_breaker.payments.time_window",
        "cannot be set beside `count_window`: choose one window",
    ),
    (
        "[circuit_breaker.payments]\nslow_call_duration = \"1s\"",
        "circuit_breaker.payments.slow_call_rate_threshold",
        "must be set with `slow_call_duration`",
    ),
    (
        "[bulkhead.payments]\nmax_concurrent = 0",
        "bulkhead.payments.max_concurrent",
        "must be at least 1, got 0",
    ),
    (
        "[bulkhead.payments]\nmax_waiting = 5",
        "bulkhead.payments.max_wait",
        "must be longer than zero when `max_waiting` is 5: waiters would give up at once",
    ),
    (
        "[bulkhead.defaults]\nmax_concurrent = 0\n[bulkhead.search]",
        "bulkhead.search.max_concurrent",
        "must be at least 1, got 0",
    ),
    (
        "[rate_limiter.payments]\nburst = 3",
        "rate_limiter.payments.rate",
        "must be set: call `rate(per_second)` or `limit(units, window)`",
    ),
    (
        "[rate_limiter.payments]\nrate = nan",
        "rate_limiter.payments.rate",
        "must be a finite number above 0, got NaN",
    ),
    (
        "[retry_budget.payments]\nttl = \"2m\"",
        "retry_budget.payments.ttl",
        "must be between 1s and 60s, got 120s",
    ),
    (
        "[throttle.payments]\nmultiplier = 0.5",
        "throttle.payments.multiplier",
        "must be a finite number >= 1, got 0.5",
    ),
    (
        "[throttle.payments]\nwindow = \"0s\"",
        "throttle.payments.window",
        "must be between 1ms and 1 day, got 0ns",
    ),
    (
        "[retry_budget.payments]\nratio = 11.0",
        "retry_budget.payments.ratio",
        "must be at most 10 (1000%), got 11",
    ),
];

#[test]
fn invalid_values_name_the_key_and_change_nothing() {
    let registry = load(RUNNING);
    for (text, path, problem) in INVALID {
        // A valid change elsewhere in the same document is not applied either.
        let text = format!("[bulkhead.other]\nmax_concurrent = 1\n{text}");
        let err = registry.apply(&toml(&text).unwrap()).unwrap_err();
        assert_eq!((err.path(), err.problem()), (*path, *problem), "{text}");
        assert_eq!(err.to_string(), format!("{path}: {problem}"));
        unchanged(&registry);
        assert!(registry.get_bulkhead("other").is_none(), "{text}");
    }
}

/// Documents that do not parse into settings: (document, path, part of the problem).
const MALFORMED: &[(&str, &str, &str)] = &[
    (
        "[bulkhead.payments]\nmax_concurrent = \"four\"",
        "bulkhead.payments.max_concurrent",
        "invalid type: string \"four\"",
    ),
    (
        "[bulkhead.payments]\nmax_concurrent = -1",
        "bulkhead.payments.max_concurrent",
        "invalid value: integer `-1`",
    ),
    (
        "[bulkhead.payments]\nmax_wait = \"soon\"",
        "bulkhead.payments.max_wait",
        "expected a duration such as \"250ms\" or \"2s\", got \"soon\"",
    ),
    (
        "[bulkhead.payments]\nmax_wait = 5",
        "bulkhead.payments.max_wait",
        "invalid type: integer `5`, expected a string",
    ),
    (
        "[bulkhead.payments]\nmax_concurent = 4",
        "bulkhead.payments.max_concurent",
        "unknown field `max_concurent`",
    ),
    (
        "[circuit_breaker.payments]\nfailure_rate_threshold = \"50%\"",
        "circuit_breaker.payments.failure_rate_threshold",
        "invalid type: string \"50%\"",
    ),
    (
        "[breaker.payments]\ncount_window = 4",
        "breaker",
        "unknown field `breaker`",
    ),
];

#[test]
fn malformed_documents_name_the_key() {
    for (text, path, problem) in MALFORMED {
        let err = toml(text).unwrap_err();
        assert_eq!(err.path(), *path, "{text}: {err}");
        // The format's own message, with its position in the text.
        assert!(err.problem().contains(problem), "{text}: {err}");
    }
}

#[test]
fn a_rejected_document_is_counted_and_an_applied_one_too() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    metrics::with_local_recorder(&recorder, || {
        let registry = load(RUNNING);
        let bad = toml("[bulkhead.payments]\nmax_concurrent = 0").unwrap();
        assert!(registry.apply(&bad).is_err());
        assert!(registry.apply(&bad).is_err());
        unchanged(&registry);
    });
    let mut counts = Vec::new();
    for (key, _, _, value) in snapshotter.snapshot().into_vec() {
        if key.key().name() == metric::CONFIG_RELOADS_TOTAL {
            let outcome = key.key().labels().next().unwrap().value().to_owned();
            let DebugValue::Counter(n) = value else {
                panic!("a counter");
            };
            counts.push((outcome, n));
        }
    }
    counts.sort();
    assert_eq!(
        counts,
        [("applied".to_owned(), 1), ("rejected".to_owned(), 2)]
    );
}
