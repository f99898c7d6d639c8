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
//! // Bulkheads are shared by name the same way.
//! let pool = registry.bulkhead("payments", |b| b.max_concurrent(8)).unwrap();
//! assert_eq!(pool.capacity(), 8);
//!
//! // Rate limiters, adaptive bulkheads and throttles too, each kind in its own map.
//! let api = registry.rate_limiter("api", |b| b.rate(50.0)).unwrap();
//! assert_eq!(api.quota().burst(), 50);
//! let search = registry.adaptive_bulkhead("search", |b| b.max_waiting(0)).unwrap();
//! let upstream = registry.throttle("upstream", |b| b).unwrap();
//!
//! // One snapshot of everything, for a health endpoint.
//! let snapshot = registry.snapshot();
//! assert_eq!(snapshot.circuit_breakers.len(), 1);
//! assert_eq!(snapshot.circuit_breakers[0].name, "payments");
//! assert_eq!(snapshot.bulkheads[0].capacity, 8);
//! assert_eq!(snapshot.rate_limiters[0].available, 50);
//! assert_eq!(snapshot.adaptive_bulkheads[0].limit, search.limit());
//! assert_eq!(snapshot.throttles[0].rejection_probability, 0.0);
//! # let _ = upstream;
//! ```
//!
//! # Why a registry
//!
//! A breaker or a bulkhead protects one dependency, so every code path that calls "payments"
//! must share one instance, wherever it is constructed: a tower layer built in `main`, a
//! `#[resilient(circuit_breaker = "payments")]` function deep in a module. The registry
//! hands out the same instance for the same name ([`Registry::global`] is the one the
//! attribute uses), and lists all of them for a health endpoint.
//!
//! Rate limiters are shared by name the same way ([`Registry::rate_limiter`]), so that every
//! code path calling one rate-limited provider spends one budget.
//!
//! Retry budgets are shared by name as well ([`Registry::retry_budget`]), so that
//! `#[resilient(retry(budget = "payments"))]` on several functions spends one budget, and
//! so are hedging policies ([`Registry::hedge`]), so that the calls to one dependency
//! share one latency window.
//!
//! Fault injectors too ([`Registry::fault`]), so that one switch turns a game day on for
//! every code path that injects into the same dependency.
//!
//! Retry policies ([`Registry::retry_policy`]) and deadline policies
//! ([`Registry::deadline`]) are named too, so that a configuration document can tune them
//! at run time: `#[resilient(retry = "payments", deadline = "api")]` and the tower layers
//! built from them follow every reload.
//!
//! Lookups take a read lock on a map; hold on to the returned handle (a cheap clone)
//! instead of looking a name up on every call.

use std::collections::HashMap;
use std::sync::{LazyLock, PoisonError, RwLock};

use crate::adaptive::{AdaptiveBulkhead, AdaptiveBulkheadBuilder, AdaptiveBulkheadSnapshot};
use crate::bulkhead::{Bulkhead, BulkheadBuilder, BulkheadSnapshot};
use crate::circuit_breaker::{CircuitBreaker, CircuitBreakerBuilder, CircuitBreakerSnapshot};
use crate::deadline::{DeadlinePolicy, DeadlinePolicyBuilder, DeadlineSnapshot};
use crate::fault::{Fault, FaultBuilder, FaultSnapshot};
use crate::hedge::{Hedge, HedgeBuilder, HedgeSnapshot};
use crate::rate_limit::{RateLimiter, RateLimiterBuilder, RateLimiterSnapshot};
use crate::retry::{RetryBudget, RetryBudgetBuilder};
use crate::retry::{RetryPolicy, RetryPolicyBuilder, RetryPolicySnapshot};
use crate::throttle::{AdaptiveThrottle, AdaptiveThrottleBuilder, AdaptiveThrottleSnapshot};
use crate::{ConfigError, Name};

/// Named primitive instances: one map per kind of primitive.
#[derive(Debug, Default)]
pub struct Registry {
    circuit_breakers: Named<CircuitBreaker>,
    bulkheads: Named<Bulkhead>,
    retry_budgets: Named<RetryBudget>,
    hedges: Named<Hedge>,
    rate_limiters: Named<RateLimiter>,
    adaptive_bulkheads: Named<AdaptiveBulkhead>,
    throttles: Named<AdaptiveThrottle>,
    faults: Named<Fault>,
    retry_policies: Named<RetryPolicy>,
    deadlines: Named<DeadlinePolicy>,
    /// Serialises [`apply`](Registry::apply) (feature `serde`).
    #[cfg_attr(not(feature = "serde"), allow(dead_code))]
    pub(crate) apply_lock: std::sync::Mutex<()>,
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
        configure: impl FnOnce(CircuitBreakerBuilder) -> CircuitBreakerBuilder,
    ) -> Result<CircuitBreaker, ConfigError> {
        self.circuit_breakers.get_or_create(name.into(), |name| {
            configure(CircuitBreaker::builder().name(name.clone()))
                .name(name)
                .build()
        })
    }

    /// The breaker named `name`, if one is registered.
    pub fn get_circuit_breaker(&self, name: &str) -> Option<CircuitBreaker> {
        self.circuit_breakers.get(name)
    }

    /// Registers `breaker` under its own name, replacing (and returning) any breaker
    /// registered under that name before.
    pub fn insert_circuit_breaker(&self, breaker: CircuitBreaker) -> Option<CircuitBreaker> {
        self.circuit_breakers
            .insert(breaker.name().clone(), breaker)
    }

    /// Removes the breaker named `name` from the registry (handles already given out keep
    /// working).
    pub fn remove_circuit_breaker(&self, name: &str) -> Option<CircuitBreaker> {
        self.circuit_breakers.remove(name)
    }

    /// The bulkhead named `name`, created with `configure(builder)` if it does not exist
    /// yet; the same rules as [`circuit_breaker`](Self::circuit_breaker) apply.
    ///
    /// # Errors
    ///
    /// The configuration is invalid (nothing is registered then).
    pub fn bulkhead(
        &self,
        name: impl Into<Name>,
        configure: impl FnOnce(BulkheadBuilder) -> BulkheadBuilder,
    ) -> Result<Bulkhead, ConfigError> {
        self.bulkheads.get_or_create(name.into(), |name| {
            configure(Bulkhead::builder().name(name.clone()))
                .name(name)
                .build()
        })
    }

    /// The bulkhead named `name`, if one is registered.
    pub fn get_bulkhead(&self, name: &str) -> Option<Bulkhead> {
        self.bulkheads.get(name)
    }

    /// Registers `bulkhead` under its own name, replacing (and returning) any bulkhead
    /// registered under that name before.
    pub fn insert_bulkhead(&self, bulkhead: Bulkhead) -> Option<Bulkhead> {
        self.bulkheads.insert(bulkhead.name().clone(), bulkhead)
    }

    /// Removes the bulkhead named `name` from the registry (handles already given out keep
    /// working).
    pub fn remove_bulkhead(&self, name: &str) -> Option<Bulkhead> {
        self.bulkheads.remove(name)
    }

    /// The retry budget named `name`, created with `configure(builder)` if it does not
    /// exist yet (the first configuration wins). Policies holding clones of one budget
    /// share its balance: `#[resilient(retry(budget = "payments"))]` on several functions
    /// bounds their retries together.
    ///
    /// # Errors
    ///
    /// The configuration is invalid (nothing is registered then).
    pub fn retry_budget(
        &self,
        name: impl Into<Name>,
        configure: impl FnOnce(RetryBudgetBuilder) -> RetryBudgetBuilder,
    ) -> Result<RetryBudget, ConfigError> {
        self.retry_budgets
            .get_or_create(name.into(), |_| configure(RetryBudget::builder()).build())
    }

    /// The retry budget named `name`, if one is registered.
    pub fn get_retry_budget(&self, name: &str) -> Option<RetryBudget> {
        self.retry_budgets.get(name)
    }

    /// Registers `budget` under `name`, replacing (and returning) any budget registered
    /// under that name before.
    pub fn insert_retry_budget(
        &self,
        name: impl Into<Name>,
        budget: RetryBudget,
    ) -> Option<RetryBudget> {
        self.retry_budgets.insert(name.into(), budget)
    }

    /// Removes the retry budget named `name` from the registry (policies holding it keep
    /// it).
    pub fn remove_retry_budget(&self, name: &str) -> Option<RetryBudget> {
        self.retry_budgets.remove(name)
    }

    /// The hedging policy named `name`, created with `configure(builder)` if it does not
    /// exist yet; the same rules as [`circuit_breaker`](Self::circuit_breaker) apply.
    /// Calls sharing a policy share its latency window and budget.
    ///
    /// # Errors
    ///
    /// The configuration is invalid (nothing is registered then).
    pub fn hedge(
        &self,
        name: impl Into<Name>,
        configure: impl FnOnce(HedgeBuilder) -> HedgeBuilder,
    ) -> Result<Hedge, ConfigError> {
        self.hedges.get_or_create(name.into(), |name| {
            configure(Hedge::builder().name(name.clone()))
                .name(name)
                .build()
        })
    }

    /// The hedging policy named `name`, if one is registered.
    pub fn get_hedge(&self, name: &str) -> Option<Hedge> {
        self.hedges.get(name)
    }

    /// Registers `hedge` under its own name, replacing (and returning) any policy
    /// registered under that name before.
    pub fn insert_hedge(&self, hedge: Hedge) -> Option<Hedge> {
        self.hedges.insert(hedge.name().clone(), hedge)
    }

    /// Removes the hedging policy named `name` from the registry (handles already given
    /// out keep working).
    pub fn remove_hedge(&self, name: &str) -> Option<Hedge> {
        self.hedges.remove(name)
    }

    /// The rate limiter named `name`, created with `configure(builder)` if it does not
    /// exist yet; the same rules as [`circuit_breaker`](Self::circuit_breaker) apply. A
    /// limiter needs a rate, so `configure` must set one.
    ///
    /// # Errors
    ///
    /// The configuration is invalid (nothing is registered then).
    pub fn rate_limiter(
        &self,
        name: impl Into<Name>,
        configure: impl FnOnce(RateLimiterBuilder) -> RateLimiterBuilder,
    ) -> Result<RateLimiter, ConfigError> {
        self.rate_limiters.get_or_create(name.into(), |name| {
            configure(RateLimiter::builder().name(name.clone()))
                .name(name)
                .build()
        })
    }

    /// The rate limiter named `name`, if one is registered.
    pub fn get_rate_limiter(&self, name: &str) -> Option<RateLimiter> {
        self.rate_limiters.get(name)
    }

    /// Registers `limiter` under its own name, replacing (and returning) any limiter
    /// registered under that name before.
    pub fn insert_rate_limiter(&self, limiter: RateLimiter) -> Option<RateLimiter> {
        self.rate_limiters.insert(limiter.name().clone(), limiter)
    }

    /// Removes the rate limiter named `name` from the registry (handles already given out
    /// keep working).
    pub fn remove_rate_limiter(&self, name: &str) -> Option<RateLimiter> {
        self.rate_limiters.remove(name)
    }

    /// The adaptive bulkhead named `name`, created with `configure(builder)` if it does
    /// not exist yet; the same rules as [`circuit_breaker`](Self::circuit_breaker) apply.
    ///
    /// # Errors
    ///
    /// The configuration is invalid (nothing is registered then).
    pub fn adaptive_bulkhead(
        &self,
        name: impl Into<Name>,
        configure: impl FnOnce(AdaptiveBulkheadBuilder) -> AdaptiveBulkheadBuilder,
    ) -> Result<AdaptiveBulkhead, ConfigError> {
        self.adaptive_bulkheads.get_or_create(name.into(), |name| {
            configure(AdaptiveBulkhead::builder().name(name.clone()))
                .name(name)
                .build()
        })
    }

    /// The adaptive bulkhead named `name`, if one is registered.
    pub fn get_adaptive_bulkhead(&self, name: &str) -> Option<AdaptiveBulkhead> {
        self.adaptive_bulkheads.get(name)
    }

    /// Registers `bulkhead` under its own name, replacing (and returning) any adaptive
    /// bulkhead registered under that name before.
    pub fn insert_adaptive_bulkhead(&self, bulkhead: AdaptiveBulkhead) -> Option<AdaptiveBulkhead> {
        self.adaptive_bulkheads
            .insert(bulkhead.name().clone(), bulkhead)
    }

    /// Removes the adaptive bulkhead named `name` from the registry (handles already given
    /// out keep working).
    pub fn remove_adaptive_bulkhead(&self, name: &str) -> Option<AdaptiveBulkhead> {
        self.adaptive_bulkheads.remove(name)
    }

    /// The adaptive throttle named `name`, created with `configure(builder)` if it does
    /// not exist yet; the same rules as [`circuit_breaker`](Self::circuit_breaker) apply.
    ///
    /// # Errors
    ///
    /// The configuration is invalid (nothing is registered then).
    pub fn throttle(
        &self,
        name: impl Into<Name>,
        configure: impl FnOnce(AdaptiveThrottleBuilder) -> AdaptiveThrottleBuilder,
    ) -> Result<AdaptiveThrottle, ConfigError> {
        self.throttles.get_or_create(name.into(), |name| {
            configure(AdaptiveThrottle::builder().name(name.clone()))
                .name(name)
                .build()
        })
    }

    /// The adaptive throttle named `name`, if one is registered.
    pub fn get_throttle(&self, name: &str) -> Option<AdaptiveThrottle> {
        self.throttles.get(name)
    }

    /// Registers `throttle` under its own name, replacing (and returning) any throttle
    /// registered under that name before.
    pub fn insert_throttle(&self, throttle: AdaptiveThrottle) -> Option<AdaptiveThrottle> {
        self.throttles.insert(throttle.name().clone(), throttle)
    }

    /// Removes the adaptive throttle named `name` from the registry (handles already given
    /// out keep working).
    pub fn remove_throttle(&self, name: &str) -> Option<AdaptiveThrottle> {
        self.throttles.remove(name)
    }

    /// The fault injector named `name`, created with `configure(builder)` if it does not
    /// exist yet; the same rules as [`circuit_breaker`](Self::circuit_breaker) apply.
    /// Code paths sharing a fault share its switch: one [`Fault::enable`] (or one reload
    /// of a document with `enabled = true`) starts a game day for all of them.
    ///
    /// # Errors
    ///
    /// The configuration is invalid (nothing is registered then).
    pub fn fault(
        &self,
        name: impl Into<Name>,
        configure: impl FnOnce(FaultBuilder) -> FaultBuilder,
    ) -> Result<Fault, ConfigError> {
        self.faults.get_or_create(name.into(), |name| {
            configure(Fault::builder().name(name.clone()))
                .name(name)
                .build()
        })
    }

    /// The fault injector named `name`, if one is registered.
    pub fn get_fault(&self, name: &str) -> Option<Fault> {
        self.faults.get(name)
    }

    /// Registers `fault` under its own name, replacing (and returning) any fault
    /// registered under that name before.
    pub fn insert_fault(&self, fault: Fault) -> Option<Fault> {
        self.faults.insert(fault.name().clone(), fault)
    }

    /// Removes the fault injector named `name` from the registry (handles already given
    /// out keep working).
    pub fn remove_fault(&self, name: &str) -> Option<Fault> {
        self.faults.remove(name)
    }

    /// The retry policy named `name`, created with `configure(builder)` if it does not
    /// exist yet; the same rules as [`circuit_breaker`](Self::circuit_breaker) apply.
    /// Layers and `#[resilient(retry = "name")]` functions holding it see its
    /// [`reconfigure`](RetryPolicy::reconfigure)s.
    ///
    /// # Errors
    ///
    /// The configuration is invalid (nothing is registered then).
    pub fn retry_policy(
        &self,
        name: impl Into<Name>,
        configure: impl FnOnce(RetryPolicyBuilder) -> RetryPolicyBuilder,
    ) -> Result<RetryPolicy, ConfigError> {
        self.retry_policies.get_or_create(name.into(), |name| {
            configure(RetryPolicy::builder().name(name.clone()))
                .name(name)
                .build()
        })
    }

    /// The retry policy named `name`, if one is registered.
    pub fn get_retry_policy(&self, name: &str) -> Option<RetryPolicy> {
        self.retry_policies.get(name)
    }

    /// Registers `policy` under its own name, replacing (and returning) any policy
    /// registered under that name before.
    pub fn insert_retry_policy(&self, policy: RetryPolicy) -> Option<RetryPolicy> {
        self.retry_policies.insert(policy.name().clone(), policy)
    }

    /// Removes the retry policy named `name` from the registry (handles already given out
    /// keep working).
    pub fn remove_retry_policy(&self, name: &str) -> Option<RetryPolicy> {
        self.retry_policies.remove(name)
    }

    /// The deadline policy named `name`, created with `configure(builder)` if it does not
    /// exist yet; the same rules as [`circuit_breaker`](Self::circuit_breaker) apply.
    /// `DeadlineLayer`s and `#[resilient(deadline = "name")]` functions holding it read its
    /// limits on every call.
    ///
    /// # Errors
    ///
    /// The configuration is invalid (nothing is registered then).
    pub fn deadline(
        &self,
        name: impl Into<Name>,
        configure: impl FnOnce(DeadlinePolicyBuilder) -> DeadlinePolicyBuilder,
    ) -> Result<DeadlinePolicy, ConfigError> {
        self.deadlines.get_or_create(name.into(), |name| {
            configure(DeadlinePolicy::builder().name(name.clone()))
                .name(name)
                .build()
        })
    }

    /// The deadline policy named `name`, if one is registered.
    pub fn get_deadline(&self, name: &str) -> Option<DeadlinePolicy> {
        self.deadlines.get(name)
    }

    /// Registers `policy` under its own name, replacing (and returning) any deadline
    /// policy registered under that name before.
    pub fn insert_deadline(&self, policy: DeadlinePolicy) -> Option<DeadlinePolicy> {
        self.deadlines.insert(policy.name().clone(), policy)
    }

    /// Removes the deadline policy named `name` from the registry (handles already given
    /// out keep working).
    pub fn remove_deadline(&self, name: &str) -> Option<DeadlinePolicy> {
        self.deadlines.remove(name)
    }

    /// A snapshot of every registered breaker, bulkhead, hedging policy, rate limiter, adaptive bulkhead,
    /// throttle and fault, sorted by name within each kind (retry budgets have no snapshot yet).
    pub fn snapshot(&self) -> RegistrySnapshot {
        let mut circuit_breakers = self.circuit_breakers.map_values(CircuitBreaker::snapshot);
        circuit_breakers.sort_by(|a, b| a.name.cmp(&b.name));
        let mut bulkheads = self.bulkheads.map_values(Bulkhead::snapshot);
        bulkheads.sort_by(|a, b| a.name.cmp(&b.name));
        let mut hedges = self.hedges.map_values(Hedge::snapshot);
        hedges.sort_by(|a, b| a.name.cmp(&b.name));
        let mut rate_limiters = self.rate_limiters.map_values(RateLimiter::snapshot);
        rate_limiters.sort_by(|a, b| a.name.cmp(&b.name));
        let mut adaptive_bulkheads = self
            .adaptive_bulkheads
            .map_values(AdaptiveBulkhead::snapshot);
        adaptive_bulkheads.sort_by(|a, b| a.name.cmp(&b.name));
        let mut throttles = self.throttles.map_values(AdaptiveThrottle::snapshot);
        throttles.sort_by(|a, b| a.name.cmp(&b.name));
        let mut faults = self.faults.map_values(Fault::snapshot);
        faults.sort_by(|a, b| a.name.cmp(&b.name));
        let mut retry_policies = self.retry_policies.map_values(RetryPolicy::snapshot);
        retry_policies.sort_by(|a, b| a.name.cmp(&b.name));
        let mut deadlines = self.deadlines.map_values(DeadlinePolicy::snapshot);
        deadlines.sort_by(|a, b| a.name.cmp(&b.name));
        RegistrySnapshot {
            circuit_breakers,
            bulkheads,
            hedges,
            rate_limiters,
            adaptive_bulkheads,
            throttles,
            faults,
            retry_policies,
            deadlines,
        }
    }
}

/// Every registered instance's figures, from [`Registry::snapshot`]. More kinds of
/// primitive join as fields in minor releases.
///
/// With feature `serde` it serializes as an object of arrays
/// (`{"circuit_breakers": [...], "bulkheads": [...]}`), ready to expose as JSON; a
/// readiness endpoint built on it is in [`health`](crate::health).
#[derive(Clone, Debug, Default, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct RegistrySnapshot {
    /// One snapshot per circuit breaker, by name.
    pub circuit_breakers: Vec<CircuitBreakerSnapshot>,
    /// One snapshot per bulkhead, by name.
    pub bulkheads: Vec<BulkheadSnapshot>,
    /// One snapshot per hedging policy, by name.
    pub hedges: Vec<HedgeSnapshot>,
    /// One snapshot per rate limiter, by name.
    pub rate_limiters: Vec<RateLimiterSnapshot>,
    /// One snapshot per adaptive bulkhead (current limit, in flight), by name.
    pub adaptive_bulkheads: Vec<AdaptiveBulkheadSnapshot>,
    /// One snapshot per adaptive throttle (rejection probability), by name.
    pub throttles: Vec<AdaptiveThrottleSnapshot>,
    /// One snapshot per fault injector (its switch and rates), by name.
    pub faults: Vec<FaultSnapshot>,
    /// One snapshot per retry policy (its settings and budget balance), by name.
    pub retry_policies: Vec<RetryPolicySnapshot>,
    /// One snapshot per deadline policy (its limits), by name.
    pub deadlines: Vec<DeadlineSnapshot>,
}

/// One kind's instances by name. A poisoned lock is still used: every write leaves the map
/// consistent (a single insert or remove).
#[derive(Debug)]
struct Named<T>(RwLock<HashMap<Name, T>>);

impl<T> Default for Named<T> {
    fn default() -> Self {
        Self(RwLock::default())
    }
}

impl<T: Clone> Named<T> {
    fn get(&self, name: &str) -> Option<T> {
        self.0
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(name)
            .cloned()
    }

    fn get_or_create(
        &self,
        name: Name,
        create: impl FnOnce(Name) -> Result<T, ConfigError>,
    ) -> Result<T, ConfigError> {
        if let Some(found) = self.get(&name) {
            return Ok(found);
        }
        let mut map = self.0.write().unwrap_or_else(PoisonError::into_inner);
        // Another caller may have created it between the two locks.
        if let Some(found) = map.get(&name) {
            return Ok(found.clone());
        }
        let created = create(name.clone())?;
        map.insert(name, created.clone());
        Ok(created)
    }

    fn insert(&self, name: Name, value: T) -> Option<T> {
        self.0
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(name, value)
    }

    fn remove(&self, name: &str) -> Option<T> {
        self.0
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(name)
    }

    fn map_values<U>(&self, f: impl Fn(&T) -> U) -> Vec<U> {
        self.0
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .map(f)
            .collect()
    }
}
