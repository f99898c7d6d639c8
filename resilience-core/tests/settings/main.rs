//! Configuration documents: every key changes behaviour after load and after reload, bad
//! documents are refused with the key's path and change nothing, environment overrides,
//! and a reload under load.
#![cfg(feature = "serde")]

mod adaptive_keys;
mod breaker_keys;
mod bulkhead_keys;
mod coalescer_and_fallback_keys;
mod code_built_limiters;
mod deadline_keys;
mod env;
mod fault_keys;
mod hedge_keys;
mod hostile;
mod idempotency_store_keys;
mod invalid;
mod limiter_and_budget_keys;
mod retry_invalid;
mod retry_keys;
mod retry_under_load;
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

/// Asserts that the table `text` is refused at `path` with a problem containing
/// `problem` by `Settings::validate`, by `Registry::apply` (which then applies nothing),
/// and by `read`, the code that reads the kind's builder.
pub(crate) fn assert_refused<T>(
    text: &str,
    path: &str,
    problem: &str,
    read: impl Fn(&Settings) -> Result<T, SettingsError>,
) {
    let settings = toml(&format!("[bulkhead.other]\n{text}")).unwrap();
    let err = settings.validate().unwrap_err();
    assert_eq!(err.path(), path, "{text}");
    assert!(err.problem().contains(problem), "{err}");
    let registry = Registry::new();
    assert_eq!(registry.apply(&settings).unwrap_err(), err);
    assert!(registry.get_bulkhead("other").is_none(), "nothing applied");
    assert_eq!(read(&settings).err(), Some(err));
}

/// The README's full TOML example.
pub(crate) fn readme_example() -> &'static str {
    let readme = include_str!("../../../README.md");
    let start = readme
        .find("```toml\n# resilience.toml")
        .expect("the README example")
        + 8;
    let end = start + readme[start..].find("```").unwrap();
    &readme[start..end]
}

/// The README's full TOML example is a valid document that sets what it says.
#[test]
fn the_readme_example_document_applies() {
    let example = readme_example();
    let registry = load(example);
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
    let mut settings = toml(example).unwrap();
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

/// The README example's hedge, adaptive bulkhead, fault and code-built kinds.
#[test]
fn the_readme_example_configures_hedges_adaptive_bulkheads_faults_and_code_built_kinds() {
    let example = readme_example();
    let registry = load(example);
    let hedge = registry.get_hedge("search").unwrap();
    assert_eq!(hedge.max_hedges(), 1);
    assert!(!hedge.deposits());
    assert_eq!(
        hedge.budget().unwrap().balance(),
        registry.get_retry_budget("payments").unwrap().balance()
    );
    let inventory = registry
        .get_adaptive_bulkhead("inventory")
        .unwrap()
        .snapshot();
    assert_eq!(
        (inventory.algorithm, inventory.limit, inventory.max_limit),
        ("aimd", 20, 200)
    );
    let fault = registry.get_fault("inventory").unwrap().snapshot();
    assert!(!fault.enabled);
    assert_eq!(fault.error_rate, 0.05);
    let settings = toml(example).unwrap();
    let per_client = settings
        .keyed_rate_limiter::<String>("per_client")
        .unwrap()
        .build()
        .unwrap();
    assert_eq!(per_client.max_keys(), 100_000);
    assert_eq!(
        settings.redis_rate_limiter.instances["partner_api"].burst,
        Some(100)
    );
    let catalog = settings
        .coalescer::<String, u32>("catalog")
        .unwrap()
        .build()
        .unwrap();
    assert_eq!(catalog.max_keys(), 10_000);
    let base = resilience_core::fallback::Fallback::<u32>::builder()
        .stale(std::time::Duration::from_secs(1));
    let prices = settings.fallback("prices", base).unwrap().build().unwrap();
    assert_eq!(
        (prices.max_age(), prices.max_keys()),
        (Some(std::time::Duration::from_secs(300)), Some(4096))
    );
    let checkout = settings
        .idempotency_store("checkout")
        .unwrap()
        .build()
        .unwrap();
    assert_eq!(
        (checkout.max_entries(), checkout.max_bytes()),
        (100_000, 64 << 20)
    );
}
