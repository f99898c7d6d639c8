//! The `keyed_rate_limiter` and `redis_rate_limiter` kinds: settings a document holds for
//! limiters that code builds (one is generic over its key, the other needs a Redis), and
//! reads back with [`Settings::keyed_rate_limiter`] and [`Settings::redis_rate_limiter`].

use std::hash::Hash;
use std::time::Duration;

use super::kinds::{KeyError, Keys, pass_keys, settings};
use super::value::{self, Value};
use super::{Settings, SettingsError};
use crate::ConfigError;
use crate::rate_limit::{KeyedRateLimiter, KeyedRateLimiterBuilder, RateLimiter};

/// What a Redis rate limiter does when Redis cannot answer (the `on_store_failure` key):
/// `"fail_open"` (the default) lets the call through, `"fail_closed"` refuses it; see
/// `StoreFailure` (feature `redis`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum OnStoreFailure {
    /// `"fail_open"`.
    #[default]
    FailOpen,
    /// `"fail_closed"`.
    FailClosed,
}

value::words!(OnStoreFailure {
    "fail_open" => OnStoreFailure::FailOpen,
    "fail_closed" => OnStoreFailure::FailClosed,
});

settings! {
    /// A [`KeyedRateLimiter`]'s settings (`[keyed_rate_limiter.<name>]`); each key is the
    /// [`KeyedRateLimiterBuilder`] option of the same name. A document does not create
    /// keyed limiters (they are generic over their key): code builds one from
    /// [`Settings::keyed_rate_limiter`] and reconfigures it with the same on a reload.
    pub struct KeyedRateLimiterSettings {
        /// Units per second per key, on average.
        rate: f64,
        /// Units an idle key may take at once.
        burst: u32,
        /// How long a caller may wait its turn.
        max_wait: Duration,
        /// The most keys tracked at once.
        max_keys: usize,
    }
}

settings! {
    /// A Redis rate limiter's settings (`[redis_rate_limiter.<name>]`); each key is the
    /// `RedisRateLimiterBuilder` option of the same name (`on_store_failure` as
    /// [`OnStoreFailure`]). A document does not create Redis limiters (they need a
    /// connection): code applies these to a builder holding the URL with
    /// [`Settings::redis_rate_limiter`], and reconfigures the limiter with the same on a
    /// reload.
    pub struct RedisRateLimiterSettings {
        /// Units per second per key, on average.
        rate: f64,
        /// Units an idle key may take at once.
        burst: u32,
        /// How long a caller may wait its turn.
        max_wait: Duration,
        /// How long one check may take before the failure policy decides.
        timeout: Duration,
        /// What a call gets when Redis fails: `"fail_open"` or `"fail_closed"`.
        on_store_failure: OnStoreFailure,
    }
}

impl KeyedRateLimiterSettings {
    /// The builder these settings describe.
    pub(crate) fn builder<K: Hash + Eq + Send + Sync + 'static>(
        &self,
    ) -> KeyedRateLimiterBuilder<K> {
        let mut b = KeyedRateLimiter::builder();
        pass_keys!(self, b, rate, burst, max_wait, max_keys);
        b
    }
}

impl RedisRateLimiterSettings {
    /// Checks what can be checked without a Redis: the rate options and the timeout.
    pub(crate) fn check(&self) -> Result<(), KeyError> {
        let mut b = RateLimiter::builder();
        pass_keys!(self, b, rate, burst, max_wait);
        b.build()
            .map_err(|e| (e.option(), e.problem().to_owned()))?;
        if self.timeout == Some(Duration::ZERO) {
            return Err(("timeout", "must be longer than zero".into()));
        }
        Ok(())
    }

    /// `base` with these settings.
    #[cfg(feature = "redis")]
    pub(crate) fn apply_to(
        &self,
        mut b: crate::rate_limit::RedisRateLimiterBuilder,
    ) -> crate::rate_limit::RedisRateLimiterBuilder {
        use crate::rate_limit::StoreFailure;
        pass_keys!(self, b, rate, burst, max_wait, timeout);
        if let Some(policy) = self.on_store_failure {
            b = b.on_store_failure(match policy {
                OnStoreFailure::FailOpen => StoreFailure::FailOpen,
                OnStoreFailure::FailClosed => StoreFailure::FailClosed,
            });
        }
        b
    }
}

/// The error of a builder option of `kind.name`.
pub(super) fn at(kind: &str, name: &str, e: &ConfigError) -> SettingsError {
    SettingsError::new(format!("{kind}.{name}.{}", e.option()), e.problem())
}

/// The settings of `name` in `table` (the kind `kind`), its defaults filled in.
pub(super) fn named<T: Keys>(
    table: &super::Kind<T>,
    kind: &str,
    name: &str,
) -> Result<T, SettingsError> {
    match table.instances.get(name) {
        Some(own) => Ok(own.or(&table.defaults)),
        None => Err(missing(kind, name)),
    }
}

/// `kind.name` is not in the document.
fn missing(kind: &str, name: &str) -> SettingsError {
    SettingsError::new(
        format!("{kind}.{name}"),
        "not in the document: name it, even empty, to configure it from the document",
    )
}

impl Settings {
    /// The builder of the keyed rate limiter the document names `name`, with its kind's
    /// defaults filled in and named `name`: build the limiter with it, and on each reload
    /// give [`KeyedRateLimiter::reconfigure`] the one the new document describes.
    ///
    /// ```
    /// use std::net::IpAddr;
    /// use resilience_core::rate_limit::KeyedRateLimiter;
    /// use resilience_core::settings::Settings;
    ///
    /// let load = |text: &str| {
    ///     Settings::from_deserializer(&mut serde_json::Deserializer::from_str(text)).unwrap()
    /// };
    /// let settings = load(r#"{ "keyed_rate_limiter": { "per_ip": { "rate": 5.0, "burst": 5 } } }"#);
    /// let limiter: KeyedRateLimiter<IpAddr> =
    ///     settings.keyed_rate_limiter("per_ip").unwrap().build().unwrap();
    ///
    /// // On a reload:
    /// let update = load(r#"{ "keyed_rate_limiter": { "per_ip": { "rate": 5.0, "burst": 9 } } }"#);
    /// limiter
    ///     .reconfigure(update.keyed_rate_limiter("per_ip").unwrap())
    ///     .unwrap();
    /// assert_eq!(limiter.quota().burst(), 9);
    /// ```
    ///
    /// # Errors
    ///
    /// The document does not name `name` under `keyed_rate_limiter`, or a key of it is
    /// invalid (the error names its path).
    pub fn keyed_rate_limiter<K: Hash + Eq + Send + Sync + 'static>(
        &self,
        name: &str,
    ) -> Result<KeyedRateLimiterBuilder<K>, SettingsError> {
        const KIND: &str = "keyed_rate_limiter";
        let b = named(&self.keyed_rate_limiter, KIND, name)?
            .builder::<K>()
            .name(name.to_owned());
        b.check().map_err(|e| at(KIND, name, &e))?;
        Ok(b)
    }

    /// `base` (a builder holding the Redis URL, and the prefix and pre-check if any)
    /// with the settings of the Redis rate limiter the document names `name`, its kind's
    /// defaults filled in, and named `name`: build the limiter with it, and on each
    /// reload give [`RedisRateLimiter::reconfigure`](crate::rate_limit::RedisRateLimiter::reconfigure)
    /// the one the new document describes on the same `base`.
    ///
    /// # Errors
    ///
    /// The document does not name `name` under `redis_rate_limiter`, or a key of it is
    /// invalid (the error names its path), or `base` is.
    #[cfg(feature = "redis")]
    pub fn redis_rate_limiter(
        &self,
        name: &str,
        base: crate::rate_limit::RedisRateLimiterBuilder,
    ) -> Result<crate::rate_limit::RedisRateLimiterBuilder, SettingsError> {
        const KIND: &str = "redis_rate_limiter";
        let b = named(&self.redis_rate_limiter, KIND, name)?.apply_to(base.name(name.to_owned()));
        b.check().map_err(|e| at(KIND, name, &e))?;
        Ok(b)
    }
}
