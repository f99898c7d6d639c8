//! Configuration documents: every key changes behaviour after load and after reload, bad
//! documents are refused with the key's path and change nothing, environment overrides,
//! and a reload under load.
#![cfg(feature = "serde")]

mod breaker_keys;
mod bulkhead_keys;
mod env;
mod invalid;
mod limiter_and_budget_keys;
mod throttle_keys;
mod under_load;
mod yaml;

use resilience_core::Registry;
use resilience_core::settings::{Settings, SettingsError};

/// Parses a TOML document.
pub(crate) fn toml(text: &str) -> Result<Settings, SettingsError> {
    Settings::from_deserializer(toml::Deserializer::parse(text).expect("TOML syntax"))
}

/// A registry loaded from `text`.
pub(crate) fn load(text: &str) -> Registry {
    Registry::from_settings(&toml(text).unwrap()).unwrap()
}

/// Applies `text` to `registry`.
pub(crate) fn reload(registry: &Registry, text: &str) {
    registry.apply(&toml(text).unwrap()).unwrap();
}

/// The README's full TOML example is a valid document that sets what it says.
#[test]
fn the_readme_example_document_applies() {
    let readme = include_str!("../../../README.md");
    let start = readme
        .find("```toml\n# resilience.toml")
        .expect("the README example")
        + 8;
    let end = start + readme[start..].find("```").unwrap();
    let registry = load(&readme[start..end]);
    let payments = registry.get_bulkhead("payments").unwrap();
    assert_eq!((payments.capacity(), payments.max_waiting()), (32, 64));
    let api = registry.get_rate_limiter("partner_api").unwrap();
    assert_eq!((api.quota().rate(), api.quota().burst()), (50.0, 100));
    assert_eq!(registry.get_retry_budget("payments").unwrap().ratio(), 0.2);
    assert!(registry.get_throttle("partner_api").is_some());
    let breaker = registry.get_circuit_breaker("payments").unwrap();
    for _ in 0..10 {
        breaker.try_acquire().unwrap().record_failure();
    }
    assert_eq!(
        breaker.state(),
        resilience_core::circuit_breaker::State::Open,
        "ten failures in a row"
    );
    // The defaults fill in what the instance leaves out; the instance wins otherwise.
    let mut settings = toml(&readme[start..end]).unwrap();
    assert_eq!(settings.circuit_breaker.defaults.half_open_calls, Some(3));
    assert_eq!(
        settings.circuit_breaker.instances["payments"].half_open_calls,
        Some(2)
    );
    // It serializes back to the same document.
    let round_trip = toml(&toml::to_string(&settings).unwrap()).unwrap();
    assert_eq!(round_trip, settings);
    settings.bulkhead.instances.clear();
    assert_ne!(round_trip, settings);
}
