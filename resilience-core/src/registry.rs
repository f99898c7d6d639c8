//! [`Registry`]: named primitive instances, created once and shared by name.
//!
//! ```
//! use resilience_core::Registry;
//! use resilience_core::circuit_breaker::State;
//!
//! let registry = Registry::new();
//! // The first caller creates "payments" with its configuration...
//! let breaker = registry
//!     .circuit_breaker("payments", |b| b.count_window(20).failure_rate_threshold(0.3))
//!     .unwrap();
//! // ...later callers get the same breaker; their configuration closure is not run.
//! let same = registry.circuit_breaker("payments", |b| b.count_window(5)).unwrap();
//! same.force_open();
//! assert_eq!(breaker.state(), State::ForcedOpen);
//!
//! // One snapshot of everything, for a health endpoint.
//! let snapshot = registry.snapshot();
//! assert_eq!(snapshot.circuit_breakers.len(), 1);
//! assert_eq!(snapshot.circuit_breakers[0].name, "payments");
//! ```
//!
//! # Why a registry
//!
//! A breaker protects one dependency, so every code path that calls "payments" must share
//! one breaker, wherever it is constructed: a tower layer built in `main`, a
//! `#[resilient(circuit_breaker = "payments")]` function deep in a module. The registry
//! hands out the same instance for the same name ([`Registry::global`] is the one the
//! attribute uses), and lists all of them for a health endpoint.
//!
//! Lookups take a read lock on a map; hold on to the returned handle (a cheap clone)
//! instead of looking a name up on every call.

use std::collections::HashMap;
use std::sync::{LazyLock, PoisonError, RwLock};

use crate::circuit_breaker::{Builder, CircuitBreaker, CircuitBreakerSnapshot};
use crate::{ConfigError, Name};

/// Named primitive instances: one map per kind of primitive.
#[derive(Debug, Default)]
pub struct Registry {
    circuit_breakers: RwLock<HashMap<Name, CircuitBreaker>>,
}

static GLOBAL: LazyLock<Registry> = LazyLock::new(Registry::new);

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// The process-wide registry, where `#[resilient]` looks names up.
    pub fn global() -> &'static Registry {
        &GLOBAL
    }

    /// The breaker named `name`, created with `configure(builder)` if it does not exist
    /// yet. The builder passed in already carries the name (and the defaults); a name set
    /// inside `configure` is replaced by `name`. `configure` runs only when the breaker is
    /// created, so the first configuration wins.
    ///
    /// # Errors
    ///
    /// The configuration is invalid (nothing is registered then).
    pub fn circuit_breaker(
        &self,
        name: impl Into<Name>,
        configure: impl FnOnce(Builder) -> Builder,
    ) -> Result<CircuitBreaker, ConfigError> {
        let name = name.into();
        if let Some(found) = self.get_circuit_breaker(&name) {
            return Ok(found);
        }
        let mut map = self
            .circuit_breakers
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(found) = map.get(&name) {
            return Ok(found.clone());
        }
        let breaker = configure(CircuitBreaker::builder().name(name.clone()))
            .name(name.clone())
            .build()?;
        map.insert(name, breaker.clone());
        Ok(breaker)
    }

    /// The breaker named `name`, if one is registered.
    pub fn get_circuit_breaker(&self, name: &str) -> Option<CircuitBreaker> {
        self.circuit_breakers
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(name)
            .cloned()
    }

    /// Registers `breaker` under its own name, replacing (and returning) any breaker
    /// registered under that name before.
    pub fn insert_circuit_breaker(&self, breaker: CircuitBreaker) -> Option<CircuitBreaker> {
        self.circuit_breakers
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(breaker.name().clone(), breaker)
    }

    /// Removes the breaker named `name` from the registry (handles already given out keep
    /// working).
    pub fn remove_circuit_breaker(&self, name: &str) -> Option<CircuitBreaker> {
        self.circuit_breakers
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(name)
    }

    /// A snapshot of every registered instance, sorted by name within each kind.
    pub fn snapshot(&self) -> RegistrySnapshot {
        let mut circuit_breakers: Vec<_> = self
            .circuit_breakers
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .map(CircuitBreaker::snapshot)
            .collect();
        circuit_breakers.sort_by(|a, b| a.name.cmp(&b.name));
        RegistrySnapshot { circuit_breakers }
    }
}

/// Every registered instance's figures, from [`Registry::snapshot`]. More kinds of
/// primitive join as fields in minor releases.
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct RegistrySnapshot {
    /// One snapshot per circuit breaker, by name.
    pub circuit_breakers: Vec<CircuitBreakerSnapshot>,
}
