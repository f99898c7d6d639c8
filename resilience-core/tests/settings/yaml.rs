//! The same documents in YAML: any serde format works, with the same key paths in errors.

use std::time::Duration;

use resilience_core::Registry;
use resilience_core::settings::{Settings, SettingsError};

fn yaml(text: &str) -> Result<Settings, SettingsError> {
    Settings::from_deserializer(serde_norway::Deserializer::from_str(text))
}

const DOCUMENT: &str = "
circuit_breaker:
  defaults:
    open_duration: 30s
  payments:
    count_window: 20
    consecutive_failures: 2
bulkhead:
  payments:
    max_concurrent: 8
    max_waiting: 16
    max_wait: 250ms
rate_limiter:
  partner_api:
    rate: 10.0
    burst: 5
";

#[tokio::test(start_paused = true)]
async fn a_yaml_document_loads_and_reloads_like_a_toml_one() {
    let registry = Registry::from_settings(&yaml(DOCUMENT).unwrap()).unwrap();
    let pool = registry.get_bulkhead("payments").unwrap();
    assert_eq!(
        (pool.capacity(), pool.max_waiting(), pool.max_wait()),
        (8, 16, Duration::from_millis(250))
    );
    let breaker = registry.get_circuit_breaker("payments").unwrap();
    breaker.try_acquire().unwrap().record_failure();
    breaker.try_acquire().unwrap().record_failure();
    assert_eq!(
        breaker.snapshot().retry_after,
        Some(Duration::from_secs(30))
    );
    assert_eq!(
        registry
            .get_rate_limiter("partner_api")
            .unwrap()
            .quota()
            .burst(),
        5
    );

    let update = DOCUMENT.replace("max_concurrent: 8", "max_concurrent: 12");
    registry.apply(&yaml(&update).unwrap()).unwrap();
    assert_eq!(pool.capacity(), 12);
}

#[test]
fn yaml_errors_name_the_key() {
    let err = yaml("bulkhead:\n  payments:\n    max_wait: soon\n").unwrap_err();
    assert_eq!(err.path(), "bulkhead.payments.max_wait");
    // The format's own message, with its position in the text.
    assert!(err.problem().contains("expected a duration"), "{err}");

    let err = yaml("circuit_breaker:\n  payments:\n    window: 10\n").unwrap_err();
    assert_eq!(err.path(), "circuit_breaker.payments.window");
    assert!(err.problem().contains("unknown field `window`"), "{err}");

    let settings =
        yaml("circuit_breaker:\n  payments:\n    failure_rate_threshold: .nan\n").unwrap();
    let err = Registry::new().apply(&settings).unwrap_err();
    assert_eq!(
        err.to_string(),
        "circuit_breaker.payments.failure_rate_threshold: must be in (0, 1], got NaN"
    );
}
