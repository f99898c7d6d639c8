//! Reports serialize in the IETF health check response format; snapshots serialize with
//! durations in seconds.

use std::sync::Arc;
use std::time::Duration;

use resilience_core::Registry;
use resilience_core::health::{Check, CheckOutcome};
use serde_json::Value;

use crate::support::{builder, started};

#[tokio::test(start_paused = true)]
async fn a_readiness_report_serializes_in_the_health_check_draft_format() {
    let registry = Arc::new(Registry::new());
    registry
        .circuit_breaker("inventory", |b| b)
        .unwrap()
        .force_open();
    let health = started(
        builder()
            .registry(Arc::clone(&registry))
            .check(
                Check::new("postgres:connections", || async {
                    CheckOutcome::warn("pool nearly exhausted").observed(19_u64, "connections")
                })
                .component_type("datastore"),
            )
            .check(
                Check::new("cache", || async {
                    Err::<(), _>("timeout talking to 10.0.0.7")
                })
                .critical(false),
            ),
    )
    .await;
    let report = health.readiness().await;
    let json: Value = serde_json::to_value(&report).unwrap();

    assert_eq!(json["status"], "warn");
    let checks = json["checks"].as_object().unwrap();
    // Keys in the report's order: lifecycle, the checks as registered, the primitives.
    let text = serde_json::to_string(&report).unwrap();
    let keys = [
        "lifecycle",
        "postgres:connections",
        "cache",
        "inventory:circuitBreaker",
    ];
    let at: Vec<usize> = keys
        .iter()
        .map(|k| {
            text.find(&format!("\"{k}\":["))
                .unwrap_or_else(|| panic!("{k}: {text}"))
        })
        .collect();
    assert!(at.is_sorted(), "{text}");
    assert_eq!(checks.len(), keys.len());
    let pool = &checks["postgres:connections"][0];
    assert_eq!(pool["componentType"], "datastore");
    assert_eq!(pool["observedValue"], 19);
    assert_eq!(pool["observedUnit"], "connections");
    assert_eq!(pool["status"], "warn");
    assert_eq!(pool["output"], "pool nearly exhausted");
    let time = pool["time"].as_str().unwrap();
    assert!(
        time.len() == 24 && time.ends_with('Z') && time.as_bytes()[10] == b'T',
        "RFC 3339 UTC with milliseconds: {time}"
    );
    assert_eq!(
        checks["inventory:circuitBreaker"][0]["observedValue"],
        "forced_open"
    );
    assert_eq!(checks["inventory:circuitBreaker"][0]["status"], "fail");
    assert_eq!(checks["lifecycle"][0]["observedValue"], "ready");
    // No member is written as null; absent ones are left out.
    assert!(checks["lifecycle"][0].get("output").is_none());
    assert!(checks["cache"][0].get("observedValue").is_none());

    // Redacted: no error text anywhere.
    let mut redacted = report.clone();
    redacted.redact();
    let text = serde_json::to_string(&redacted).unwrap();
    assert!(
        !text.contains("10.0.0.7") && !text.contains("output"),
        "{text}"
    );
}

#[tokio::test(start_paused = true)]
async fn registry_snapshots_serialize_with_durations_in_seconds() {
    let registry = Registry::new();
    let breaker = registry
        .circuit_breaker("payments", |b| b.open_duration(Duration::from_secs(30)))
        .unwrap();
    registry
        .bulkhead("payments", |b| b.max_concurrent(4))
        .unwrap();
    breaker.force_open();
    tokio::time::advance(Duration::from_millis(1500)).await;

    let json = serde_json::to_value(registry.snapshot()).unwrap();
    let b = &json["circuit_breakers"][0];
    assert_eq!(b["name"], "payments");
    assert_eq!(b["state"], "forced_open");
    assert_eq!(b["time_in_state"], 1.5);
    assert_eq!(b["failure_rate"], Value::Null);
    assert_eq!(json["bulkheads"][0]["capacity"], 4);
    assert_eq!(json["bulkheads"][0]["in_flight"], 0);
}
