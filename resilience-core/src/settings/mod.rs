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
//! `retry_budget`, `throttle` — each holding named instances and, under the reserved name `defaults`,
//! settings every instance of that kind falls back to (then the builder's own defaults).
//! Durations are human strings (`"250ms"`, `"2s"`, `"1m 30s"`); the keys are listed on
//! [`CircuitBreakerSettings`], [`BulkheadSettings`], [`RateLimiterSettings`],
//! [`RetryBudgetSettings`] and [`ThrottleSettings`].
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
//! `RESILIENCE__BULKHEAD__DEFAULTS__MAX_WAIT=100ms`. Kind, name and key are matched in
//! lower case (so an instance whose name has upper-case letters or characters an
//! environment variable cannot hold cannot be overridden this way); values are parsed as
//! in a document. A variable with the prefix that names no kind or key is an error, not
//! ignored.
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
//!   ([`AdaptiveThrottle::reconfigure`](crate::throttle::AdaptiveThrottle::reconfigure)).
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

mod apply;
mod kinds;
mod value;

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use kinds::Keys;
pub use kinds::{
    BulkheadSettings, CircuitBreakerSettings, RateLimiterSettings, RetryBudgetSettings,
    ThrottleSettings,
};

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

/// The settings of `name` in `kind` (its defaults for `defaults`), created empty.
fn entry<'k, T: Keys>(kind: &'k mut Kind<T>, name: &str) -> &'k mut T {
    if name == DEFAULTS {
        &mut kind.defaults
    } else {
        kind.instances.entry(name.to_owned()).or_default()
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

    /// Checks every instance's settings as [`Registry::apply`](crate::Registry::apply)(crate::Registry::apply)
    /// would, without applying them.
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
                "circuit_breaker" => entry(&mut self.circuit_breaker, name).set(key, value),
                "bulkhead" => entry(&mut self.bulkhead, name).set(key, value),
                "rate_limiter" => entry(&mut self.rate_limiter, name).set(key, value),
                "retry_budget" => entry(&mut self.retry_budget, name).set(key, value),
                "throttle" => entry(&mut self.throttle, name).set(key, value),
                _ => Err(format!(
                    "unknown kind `{kind}`, expected one of: circuit_breaker, bulkhead, \
                     rate_limiter, retry_budget, throttle"
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
