//! Hostile documents: any value at any key of any kind (huge, negative, NaN-like, of the
//! wrong type, absurd durations) is either applied or refused with an error naming its
//! path; it never panics, and a refused document leaves the registry as it was.

use proptest::prelude::*;
use resilience_core::Registry;
use resilience_core::settings::Settings;
use serde_json::{Value, json};

/// Every kind of the document and its keys.
const KINDS: &[(&str, &[&str])] = &[
    (
        "circuit_breaker",
        &[
            "count_window",
            "time_window",
            "time_window_buckets",
            "minimum_calls",
            "failure_rate_threshold",
            "slow_call_duration",
            "slow_call_rate_threshold",
            "consecutive_failures",
            "open_duration",
            "open_duration_growth",
            "open_duration_max",
            "half_open_calls",
            "max_half_open_duration",
            "probe_timeout",
        ],
    ),
    (
        "bulkhead",
        &["max_concurrent", "max_waiting", "max_wait", "retry_after"],
    ),
    ("rate_limiter", &["rate", "burst", "max_wait"]),
    ("retry_budget", &["ttl", "min_per_sec", "ratio"]),
    ("throttle", &["multiplier", "window"]),
    (
        "hedge",
        &[
            "delay",
            "percentile",
            "window",
            "min_samples",
            "min_delay",
            "max_hedges",
            "deposit",
            "budget",
        ],
    ),
    (
        "adaptive_bulkhead",
        &[
            "algorithm",
            "initial_limit",
            "min_limit",
            "max_limit",
            "backoff_ratio",
            "timeout",
            "alpha",
            "beta",
            "smoothing",
            "probe_multiplier",
            "min_window",
            "max_window",
            "window_samples",
            "max_waiting",
            "max_wait",
            "retry_after",
        ],
    ),
    (
        "fault",
        &[
            "enabled",
            "seed",
            "latency_rate",
            "latency_min",
            "latency_max",
            "error_rate",
            "abort_rate",
            "hang_rate",
        ],
    ),
    (
        "keyed_rate_limiter",
        &["rate", "burst", "max_wait", "max_keys"],
    ),
    (
        "redis_rate_limiter",
        &["rate", "burst", "max_wait", "timeout", "on_store_failure"],
    ),
    ("coalescer", &["max_keys"]),
    ("fallback", &["stale_max_age", "max_keys"]),
    (
        "idempotency_store",
        &[
            "max_entries",
            "max_bytes",
            "max_entries_per_scope",
            "min_record_age",
        ],
    ),
    (
        "retry",
        &[
            "max_attempts",
            "backoff",
            "base",
            "step",
            "factor",
            "max_delay",
            "jitter",
            "attempt_timeout",
            "max_elapsed",
            "max_retry_after",
            "budget",
        ],
    ),
    ("deadline", &["default_timeout", "max"]),
];

/// Values a careless or hostile document holds.
fn hostile_value() -> impl Strategy<Value = Value> {
    let fixed = prop::sample::select(vec![
        json!(0),
        json!(-1),
        json!(1),
        json!(3),
        json!(0.5),
        json!(1.5),
        json!(-0.0),
        json!(1e308),
        json!(-1e308),
        json!(4_294_967_296_u64),
        json!(u64::MAX),
        json!(i64::MIN),
        json!("NaN"),
        json!("inf"),
        json!("-inf"),
        json!(""),
        json!("0s"),
        json!("1ns"),
        json!("-1s"),
        json!("250ms"),
        json!("2s"),
        json!("18446744073709551615s"),
        json!("999999999999999999h"),
        json!("100 years"),
        json!("own"),
        json!("none"),
        json!("aimd"),
        json!("vegas"),
        json!("exponential"),
        json!("linear"),
        json!("constant"),
        json!("full"),
        json!("decorrelated"),
        json!("open"),
        json!("closed"),
        json!(true),
        json!(false),
        json!(null),
        json!([]),
        json!({}),
        json!({ "nested": 1 }),
    ]);
    prop_oneof![
        4 => fixed,
        1 => any::<i64>().prop_map(Value::from),
        1 => any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        1 => "[0-9]{1,25}(ns|us|ms|s|m|h|d)".prop_map(Value::from),
    ]
}

/// A document of one to three instances, each with up to four keys of its kind (and now
/// and then a key no kind has).
fn hostile_document() -> impl Strategy<Value = Value> {
    let instance = (
        0..KINDS.len(),
        prop::sample::select(vec!["defaults", "a", "b"]),
    )
        .prop_flat_map(|(kind, name)| {
            let keys = KINDS[kind].1;
            let key = prop_oneof![
                9 => prop::sample::select(keys.to_vec()).prop_map(str::to_owned),
                1 => Just("no_such_key".to_owned()),
            ];
            (
                Just(kind),
                Just(name),
                prop::collection::vec((key, hostile_value()), 0..4),
            )
        });
    prop::collection::vec(instance, 1..4).prop_map(|instances| {
        let mut doc = serde_json::Map::new();
        for (kind, name, keys) in instances {
            let table = doc
                .entry(KINDS[kind].0)
                .or_insert_with(|| json!({}))
                .as_object_mut()
                .expect("an object")
                .entry(name)
                .or_insert_with(|| json!({}));
            for (key, value) in keys {
                table.as_object_mut().expect("an object").insert(key, value);
            }
        }
        Value::Object(doc)
    })
}

/// Builds what code builds from a document (the kinds a registry does not hold).
fn build_code_built(settings: &Settings) {
    for name in ["a", "b"] {
        if let Ok(builder) = settings.keyed_rate_limiter::<String>(name) {
            builder
                .build()
                .expect("a builder the settings checked builds");
        }
        if let Ok(builder) = settings.coalescer::<String, u32>(name) {
            builder
                .build()
                .expect("a builder the settings checked builds");
        }
        if let Ok(builder) = settings.idempotency_store(name) {
            builder
                .build()
                .expect("a builder the settings checked builds");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn a_hostile_document_is_applied_or_refused_naming_its_key_never_a_panic(
        first in hostile_document(),
        second in hostile_document(),
    ) {
        // Paused: a snapshot's times stay put while nothing waits.
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .expect("a runtime");
        let _entered = runtime.enter();
        let registry = Registry::new();
        for doc in [&first, &second] {
            let before = format!("{:?}", registry.snapshot());
            match Settings::from_deserializer(doc) {
                Err(err) => {
                    // Refused while parsing: the path names a kind of the document.
                    prop_assert!(
                        KINDS.iter().any(|(kind, _)| err.path().starts_with(kind)),
                        "{err} for {doc}"
                    );
                }
                Ok(settings) => {
                    build_code_built(&settings);
                    match registry.apply(&settings) {
                        Ok(()) => {}
                        Err(err) => {
                            prop_assert!(
                                KINDS.iter().any(|(kind, _)| err.path().starts_with(kind)),
                                "{err} for {doc}"
                            );
                            prop_assert!(!err.problem().is_empty());
                            prop_assert_eq!(
                                &format!("{:?}", registry.snapshot()),
                                &before,
                                "a refused document changed the registry"
                            );
                        }
                    }
                }
            }
        }
    }
}
