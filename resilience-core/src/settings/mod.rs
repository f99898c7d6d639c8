//! Configuration from files, and reload without restart (feature `serde`).
//!
//! ```
//! use resilience_core::Registry;
//! use resilience_core::settings::Settings;
//!
//! // Any serde format works; here JSON, in the README TOML, in the tests YAML too.
//! let text = r#"{
//!     "circuit_breaker": {
//!         "defaults": { "open_duration": "30s" },
//!         "payments": { "count_window": 20, "failure_rate_threshold": 0.3 }
//!     },
//!     "bulkhead": { "payments": { "max_concurrent": 8 } }
//! }"#;
//! let settings = Settings::from_deserializer(&mut serde_json::Deserializer::from_str(text))
//!     .unwrap();
//!
//! let registry = Registry::new();
//! registry.apply(&settings).unwrap();
//! assert_eq!(registry.get_bulkhead("payments").unwrap().capacity(), 8);
//!
//! // A new document updates the live instances in place...
//! let mut update = settings.clone();
//! update.bulkhead.instances.get_mut("payments").unwrap().max_concurrent = Some(16);
//! registry.apply(&update).unwrap();
//! assert_eq!(registry.get_bulkhead("payments").unwrap().capacity(), 16);
//!
//! // ...and an invalid one changes nothing and says which key is wrong.
//! let text = r#"{ "circuit_breaker": { "payments": { "failure_rate_threshold": 1.5 } } }"#;
//! let bad = Settings::from_deserializer(&mut serde_json::Deserializer::from_str(text))
//!     .unwrap();
//! let err = registry.apply(&bad).unwrap_err();
//! assert_eq!(
//!     err.to_string(),
//!     "circuit_breaker.payments.failure_rate_threshold: must be in (0, 1], got 1.5"
//! );
//! assert_eq!(registry.get_bulkhead("payments").unwrap().capacity(), 16);
//! ```
//!
//! # Why
//!
//! Operators tune thresholds during an incident, and that must not need a rebuild; a
//! setting that does not apply must say so instead of being parsed and ignored. So every
//! key of a [`Settings`] document maps to one builder option and is validated by it,
//! unknown keys are refused, and [`Registry::apply`](crate::Registry::apply) either applies the whole document or
//! nothing.
//!
//! # The document
//!
//! One table per kind of primitive — `circuit_breaker`, `bulkhead`, `rate_limiter`,
//! `retry_budget`, `throttle`, `hedge`, `adaptive_bulkhead`, `fault`,
//! `keyed_rate_limiter`, `redis_rate_limiter`, `coalescer`, `fallback`,
//! `idempotency_store`, `retry`, `deadline` — each holding named instances and, under the reserved name `defaults`,
//! settings every instance of that kind falls back to (then the builder's own defaults).
//! Durations are human strings (`"250ms"`, `"2s"`, `"1m 30s"`); the keys are listed on
//! [`CircuitBreakerSettings`], [`BulkheadSettings`], [`RateLimiterSettings`],
//! [`RetryBudgetSettings`], [`ThrottleSettings`], [`HedgeSettings`],
//! [`AdaptiveBulkheadSettings`], [`FaultSettings`], [`KeyedRateLimiterSettings`],
//! [`RedisRateLimiterSettings`], [`CoalescerSettings`], [`FallbackSettings`],
//! [`MemoryStoreSettings`], [`RetrySettings`] and [`DeadlineSettings`].
//!
//! A retry policy's `budget` is `"own"` (its own budget, the default), `"none"`, or the
//! name of a retry budget: one of the document's `[retry_budget.<name>]` tables, or a
//! budget already in the registry (created in code). [`Settings::validate`] has no
//! registry, so it leaves a name the document does not hold to
//! [`Registry::apply`](crate::Registry::apply).
//!
//! # What a document creates, and what it does not
//!
//! [`Registry::apply`](crate::Registry::apply) creates and reconfigures the circuit
//! breakers, bulkheads, rate limiters, retry budgets, throttles, hedging policies,
//! adaptive bulkheads, fault injectors, retry policies and deadline policies a document
//! names: each is one concrete type
//! the registry holds by name. Five kinds are read by code instead, because what builds
//! them is not something a document can name: a
//! [`KeyedRateLimiter`](crate::rate_limit::KeyedRateLimiter) and a
//! [`Coalescer`](crate::coalesce::Coalescer) are generic over their key (and answer)
//! types; a `RedisRateLimiter` needs a Redis URL (and prefix), which belong to the
//! deployment rather than to tuning; a [`Fallback`](crate::fallback::Fallback) answers
//! with a value or closure, on the kinds, classes or predicate code chose; and a
//! [`MemoryStore`](crate::idempotency::MemoryStore) is handed by code to the layer that
//! uses it. Their numbers are still an operator's to tune: the limiters' rates, a
//! coalescer's `max_keys`, a fallback's `stale_max_age` and `max_keys`, a store's
//! capacities. Their tables are validated with the rest of the document; code builds
//! each from [`Settings::keyed_rate_limiter`], `Settings::redis_rate_limiter` (feature
//! `redis`), [`Settings::coalescer`], [`Settings::fallback`] or
//! [`Settings::idempotency_store`] (the Redis limiter and the fallback given a builder
//! holding the URL, or the trigger and answer, which stay in code) and, after a reload,
//! passes the builder the new document gives to the instance's `reconfigure`:
//!
//! - a coalescer keeps the calls in flight; a lower `max_keys` applies to new keys
//!   ([`Coalescer::reconfigure`](crate::coalesce::Coalescer::reconfigure));
//! - a fallback keeps its trigger, its answer and its stale entries; a shorter
//!   `stale_max_age` applies at the next lookup, a lower `max_keys` evicts down at once
//!   (expired entries, then the oldest)
//!   ([`Fallback::reconfigure`](crate::fallback::Fallback::reconfigure));
//! - an idempotency store keeps every entry; lower `max_entries` and `max_bytes` are
//!   reached as a full store reaches them (the next claims evict records past
//!   `min_record_age`, oldest first, and are refused while that makes no room); a scope
//!   over a lower `max_entries_per_scope` claims nothing new until it is under. Its
//!   shard count is left to code (it cannot change on a live store), and a quota cannot
//!   be added to a store built without one
//!   ([`MemoryStore::reconfigure`](crate::idempotency::MemoryStore::reconfigure)).
//!
//! Errors name the full key path and the problem:
//! `circuit_breaker.payments.failure_rate_threshold: must be in (0, 1], got 1.5`. Parse
//! errors (a wrong type, an unknown key) get their path from
//! [`Settings::from_deserializer`]; validation errors from [`Registry::apply`](crate::Registry::apply) or
//! [`Settings::validate`].
//!
//! # Environment overrides
//!
//! [`Settings::with_env`] applies variables of the form
//! `RESILIENCE__<KIND>__<NAME>__<KEY>=<value>` on top of a document, for example
//! `RESILIENCE__CIRCUIT_BREAKER__PAYMENTS__FAILURE_RATE_THRESHOLD=0.3` or
//! `RESILIENCE__BULKHEAD__DEFAULTS__MAX_WAIT=100ms`. Kind and key are matched in lower
//! case. The name is matched against the document's instances of that kind ignoring case,
//! with `_` standing for the `-` and `.` a variable's name cannot hold portably: so
//! `RESILIENCE__BULKHEAD__PAYMENTS_API__MAX_CONCURRENT` overrides `[bulkhead.Payments-API]`;
//! a name no instance matches creates one, in lower case; a name that matches two
//! instances is an error. Values are parsed as in a document. A variable with the prefix
//! that names no kind or key is an error, not ignored.
//!
//! # Reload
//!
//! [`Registry::apply`](crate::Registry::apply) validates the whole document first; if anything is wrong it returns
//! the first error, logs it at WARN, counts it in
//! [`resilience_config_reloads_total{outcome="rejected"}`](crate::telemetry::metric::CONFIG_RELOADS_TOTAL)
//! and changes nothing. Otherwise every instance the document names is updated in place
//! (each handle already given out sees the new settings on its next call) or created:
//!
//! - circuit breakers keep their state, the open period under way and their probes; the
//!   window keeps its counts unless its shape changed
//!   ([`CircuitBreaker::reconfigure`](crate::CircuitBreaker::reconfigure));
//! - bulkheads keep every permit held and every caller queued; a lower cap holds once
//!   the calls above it finish ([`Bulkhead::reconfigure`](crate::bulkhead::Bulkhead::reconfigure));
//! - rate limiters keep the time already granted: a burst spent under the old quota is
//!   not handed out again
//!   ([`RateLimiter::reconfigure`](crate::rate_limit::RateLimiter::reconfigure));
//! - retry budgets keep their balance; `min_per_sec` and `ratio` change in place
//!   ([`RetryBudget::reconfigure`](crate::retry::RetryBudget::reconfigure));
//! - adaptive throttles keep their counts unless the window's length changed
//!   ([`AdaptiveThrottle::reconfigure`](crate::throttle::AdaptiveThrottle::reconfigure));
//! - hedging policies keep their counts and the hedges already sent, their latency
//!   window's samples unless its length changed, and their own budget's balance; a
//!   `budget` naming a retry budget swaps that one in, after the document's retry
//!   budgets are applied ([`Hedge::reconfigure`](crate::hedge::Hedge::reconfigure));
//! - adaptive bulkheads keep every permit held and caller queued and, when the
//!   algorithm's settings are unchanged, the algorithm and what it learnt; a changed
//!   algorithm carries on from the current limit, clamped into its new bounds (so
//!   `initial_limit` only sets where a new instance starts), and a lower `max_limit`
//!   holds once the calls above it finish
//!   ([`AdaptiveBulkhead::reconfigure`](crate::adaptive::AdaptiveBulkhead::reconfigure));
//! - fault injectors take the new switch and rates on the next call: `enabled = true`
//!   in a reloaded document starts a game day, `false` ends it; a new `seed` restarts
//!   the sequence of draws ([`Fault::reconfigure`](crate::fault::Fault::reconfigure));
//! - retry policies keep their own budget and its balance (or switch to the budget the
//!   document names); a call under way reads each setting when it needs it, but keeps the
//!   `max_attempts` of its first failure, so it makes the attempts of the old or of the
//!   new settings, never a number in between
//!   ([`RetryPolicy::reconfigure`](crate::retry::RetryPolicy::reconfigure));
//! - deadline policies change the limits of the next call; calls under way keep the
//!   deadline they started with
//!   ([`DeadlinePolicy::reconfigure`](crate::deadline::DeadlinePolicy::reconfigure)).
//!
//! One change a live instance cannot take is refused (the document is rejected, nothing
//! changes): a retry budget's `ttl`, which lays out the budget's time slots (remove the
//! budget from the registry and apply again to rebuild it).
//!
//! An instance the new document no longer names is left as it is: it keeps running with
//! its last settings and stays in the registry (code may hold it; a missing table in a
//! half-written file must not silently drop a breaker). Remove it with the registry's
//! `remove_*` methods. Instances created in code and named by a document are reconfigured
//! like the others. The registry's `defaults` apply only to the instances a document
//! names.

mod adaptive;
mod apply;
mod code_built;
mod fault;
mod hedge;
mod kinds;
mod limiters;
mod retry;
mod value;

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

pub use adaptive::{AdaptiveAlgorithm, AdaptiveBulkheadSettings};
pub use code_built::{CoalescerSettings, FallbackSettings, MemoryStoreSettings};
pub use fault::FaultSettings;
pub use hedge::{HedgeBudget, HedgeSettings};
use kinds::Keys;
pub use kinds::{
    BulkheadSettings, CircuitBreakerSettings, RateLimiterSettings, RetryBudgetSettings,
    ThrottleSettings,
};
pub use limiters::{KeyedRateLimiterSettings, OnStoreFailure, RedisRateLimiterSettings};
pub use retry::{BackoffCurve, DeadlineSettings, RetrySettings};

/// The prefix of environment overrides; see the [module docs](self).
pub const ENV_PREFIX: &str = "RESILIENCE__";

/// A configuration document: every kind of primitive, its defaults and named instances.
/// See the [module docs](self).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct Settings {
    /// `[circuit_breaker.<name>]`.
    pub circuit_breaker: Kind<CircuitBreakerSettings>,
    /// `[bulkhead.<name>]`.
    pub bulkhead: Kind<BulkheadSettings>,
    /// `[rate_limiter.<name>]`.
    pub rate_limiter: Kind<RateLimiterSettings>,
    /// `[retry_budget.<name>]`.
    pub retry_budget: Kind<RetryBudgetSettings>,
    /// `[throttle.<name>]`.
    pub throttle: Kind<ThrottleSettings>,
    /// `[hedge.<name>]`.
    pub hedge: Kind<HedgeSettings>,
    /// `[adaptive_bulkhead.<name>]`.
    pub adaptive_bulkhead: Kind<AdaptiveBulkheadSettings>,
    /// `[fault.<name>]`.
    pub fault: Kind<FaultSettings>,
    /// `[keyed_rate_limiter.<name>]`: read by code with [`Settings::keyed_rate_limiter`].
    pub keyed_rate_limiter: Kind<KeyedRateLimiterSettings>,
    /// `[redis_rate_limiter.<name>]`: read by code with `Settings::redis_rate_limiter`
    /// (feature `redis`).
    pub redis_rate_limiter: Kind<RedisRateLimiterSettings>,
    /// `[coalescer.<name>]`: read by code with [`Settings::coalescer`].
    pub coalescer: Kind<CoalescerSettings>,
    /// `[fallback.<name>]`: read by code with [`Settings::fallback`].
    pub fallback: Kind<FallbackSettings>,
    /// `[idempotency_store.<name>]`: read by code with [`Settings::idempotency_store`].
    pub idempotency_store: Kind<MemoryStoreSettings>,
    /// `[retry.<name>]`.
    pub retry: Kind<RetrySettings>,
    /// `[deadline.<name>]`.
    pub deadline: Kind<DeadlineSettings>,
}

/// One kind's table: the `defaults` every instance falls back to, and the instances by
/// name. It (de)serializes as one map, `defaults` being a reserved name.
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct Kind<T> {
    /// The settings under `defaults`.
    pub defaults: T,
    /// Every other entry, by instance name.
    pub instances: BTreeMap<String, T>,
}

/// The reserved instance name of a kind's defaults.
const DEFAULTS: &str = "defaults";

/// Each instance's settings in `kind`, with the defaults filled in.
fn effective<T: Keys>(kind: &Kind<T>) -> impl Iterator<Item = (&str, T)> + '_ {
    kind.instances
        .iter()
        .map(|(name, s)| (name.as_str(), s.or(&kind.defaults)))
}

/// The settings an environment variable's `name` (in lower case) addresses in `kind`: its
/// defaults, the one instance whose name it matches (see the [module docs](self)), or a
/// new instance of that name.
fn env_entry<'k, T: Keys>(kind: &'k mut Kind<T>, name: &str) -> Result<&'k mut T, String> {
    if name == DEFAULTS {
        return Ok(&mut kind.defaults);
    }
    let env_form = |instance: &str| -> String {
        instance
            .chars()
            .map(|c| match c {
                '-' | '.' => '_',
                c => c.to_ascii_lowercase(),
            })
            .collect()
    };
    let mut matching: Vec<String> = kind
        .instances
        .keys()
        .filter(|instance| env_form(instance) == name)
        .cloned()
        .collect();
    match matching.len() {
        0 => Ok(kind.instances.entry(name.to_owned()).or_default()),
        1 => Ok(kind.instances.entry(matching.remove(0)).or_default()),
        _ => Err(format!(
            "`{name}` matches several instances ({}): rename one, or set it in the document",
            matching.join(", ")
        )),
    }
}

impl<'de, T: Deserialize<'de> + Default> Deserialize<'de> for Kind<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let mut instances = BTreeMap::<String, T>::deserialize(d)?;
        let defaults = instances.remove(DEFAULTS).unwrap_or_default();
        Ok(Self {
            defaults,
            instances,
        })
    }
}

impl<T: Serialize + Default + PartialEq> Serialize for Kind<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let with_defaults = self.defaults != T::default();
        let mut map = s.serialize_map(Some(self.instances.len() + usize::from(with_defaults)))?;
        if with_defaults {
            map.serialize_entry(DEFAULTS, &self.defaults)?;
        }
        for (name, settings) in &self.instances {
            map.serialize_entry(name, settings)?;
        }
        map.end()
    }
}

impl Settings {
    /// Reads a document from any serde deserializer, tracking where a wrong value is.
    ///
    /// ```
    /// use resilience_core::settings::Settings;
    ///
    /// let text = r#"{ "bulkhead": { "search": { "max_concurent": 4 } } }"#;
    /// let err = Settings::from_deserializer(&mut serde_json::Deserializer::from_str(text))
    ///     .unwrap_err();
    /// assert_eq!(err.path(), "bulkhead.search.max_concurent");
    /// assert!(err.problem().starts_with("unknown field `max_concurent`"));
    /// ```
    ///
    /// # Errors
    ///
    /// The document does not parse, has a value of the wrong type (a duration that is not
    /// a duration, a string where a number goes) or a key no primitive has.
    pub fn from_deserializer<'de, D: Deserializer<'de>>(d: D) -> Result<Self, SettingsError> {
        serde_path_to_error::deserialize(d).map_err(|e| {
            let path = e.path().to_string();
            SettingsError::new(path, e.into_inner().to_string())
        })
    }

    /// Checks every instance's settings as [`Registry::apply`](crate::Registry::apply)
    /// would, without applying them. A hedge's `budget` naming a retry budget is
    /// checked against a registry by `apply` only (the budget may be one created in
    /// code).
    ///
    /// # Errors
    ///
    /// The first invalid key, with its path.
    pub fn validate(&self) -> Result<(), SettingsError> {
        apply::Plan::new(self).map(drop)
    }

    /// Applies the environment overrides of this process on top of `self`; see the
    /// [module docs](self) for their form.
    ///
    /// # Errors
    ///
    /// A variable with the prefix names no kind or key, or its value does not parse.
    pub fn with_env(self) -> Result<Self, SettingsError> {
        self.with_overrides(
            std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?))),
        )
    }

    /// Applies overrides of the environment's form from `vars` (name, value); variables
    /// without the [`ENV_PREFIX`] are skipped.
    ///
    /// ```
    /// use resilience_core::settings::Settings;
    ///
    /// let settings = Settings::default()
    ///     .with_overrides([
    ///         ("RESILIENCE__BULKHEAD__SEARCH__MAX_CONCURRENT", "4"),
    ///         ("RESILIENCE__BULKHEAD__DEFAULTS__RETRY_AFTER", "2s"),
    ///         ("PATH", "/usr/bin"),
    ///     ])
    ///     .unwrap();
    /// assert_eq!(settings.bulkhead.instances["search"].max_concurrent, Some(4));
    /// assert_eq!(
    ///     settings.bulkhead.defaults.retry_after,
    ///     Some(std::time::Duration::from_secs(2))
    /// );
    /// ```
    ///
    /// # Errors
    ///
    /// As [`with_env`](Self::with_env).
    pub fn with_overrides<K: AsRef<str>, V: AsRef<str>>(
        mut self,
        vars: impl IntoIterator<Item = (K, V)>,
    ) -> Result<Self, SettingsError> {
        for (var, value) in vars {
            let var = var.as_ref();
            let Some(rest) = var.strip_prefix(ENV_PREFIX) else {
                continue;
            };
            let lower = rest.to_ascii_lowercase();
            let parts: Vec<&str> = lower.split("__").collect();
            let [kind, name, key] = parts[..] else {
                return Err(SettingsError::new(
                    var,
                    "expected RESILIENCE__<KIND>__<NAME>__<KEY>",
                ));
            };
            let value = value.as_ref();
            let at = |problem: String| {
                SettingsError::new(format!("{kind}.{name}.{key} (from {var})"), problem)
            };
            match kind {
                "circuit_breaker" => {
                    env_entry(&mut self.circuit_breaker, name).and_then(|s| s.set(key, value))
                }
                "bulkhead" => env_entry(&mut self.bulkhead, name).and_then(|s| s.set(key, value)),
                "rate_limiter" => {
                    env_entry(&mut self.rate_limiter, name).and_then(|s| s.set(key, value))
                }
                "retry_budget" => {
                    env_entry(&mut self.retry_budget, name).and_then(|s| s.set(key, value))
                }
                "throttle" => env_entry(&mut self.throttle, name).and_then(|s| s.set(key, value)),
                "hedge" => env_entry(&mut self.hedge, name).and_then(|s| s.set(key, value)),
                "adaptive_bulkhead" => {
                    env_entry(&mut self.adaptive_bulkhead, name).and_then(|s| s.set(key, value))
                }
                "fault" => env_entry(&mut self.fault, name).and_then(|s| s.set(key, value)),
                "keyed_rate_limiter" => {
                    env_entry(&mut self.keyed_rate_limiter, name).and_then(|s| s.set(key, value))
                }
                "redis_rate_limiter" => {
                    env_entry(&mut self.redis_rate_limiter, name).and_then(|s| s.set(key, value))
                }
                "coalescer" => env_entry(&mut self.coalescer, name).and_then(|s| s.set(key, value)),
                "fallback" => env_entry(&mut self.fallback, name).and_then(|s| s.set(key, value)),
                "idempotency_store" => {
                    env_entry(&mut self.idempotency_store, name).and_then(|s| s.set(key, value))
                }
                "retry" => env_entry(&mut self.retry, name).and_then(|s| s.set(key, value)),
                "deadline" => env_entry(&mut self.deadline, name).and_then(|s| s.set(key, value)),
                _ => Err(format!(
                    "unknown kind `{kind}`, expected one of: circuit_breaker, bulkhead, \
                     rate_limiter, retry_budget, throttle, hedge, adaptive_bulkhead, fault, \
                     keyed_rate_limiter, redis_rate_limiter, coalescer, fallback, \
                     idempotency_store, retry, deadline"
                )),
            }
            .map_err(at)?;
        }
        Ok(self)
    }
}

/// A configuration document that does not apply: the full key path and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SettingsError {
    path: String,
    problem: String,
}

impl SettingsError {
    fn new(path: impl Into<String>, problem: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            problem: problem.into(),
        }
    }

    /// Where: `kind.name.key`, such as `circuit_breaker.payments.open_duration`.
    #[must_use]
    pub fn path(&self) -> &str {
        &self.path
    }

    /// What is wrong, such as `must be in (0, 1], got 1.5`.
    #[must_use]
    pub fn problem(&self) -> &str {
        &self.problem
    }
}

impl fmt::Display for SettingsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.problem)
    }
}

impl std::error::Error for SettingsError {}
