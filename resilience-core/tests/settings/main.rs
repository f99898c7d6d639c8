//! Configuration documents: every key changes behaviour after load and after reload, bad
//! documents are refused with the key's path and change nothing, environment overrides,
//! and a reload under load.
#![cfg(feature = "serde")]

mod breaker_keys;
mod bulkhead_keys;
mod env;
mod invalid;
mod limiter_and_budget_keys;
mod under_load;

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
