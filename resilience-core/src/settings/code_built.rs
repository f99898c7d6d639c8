//! The `coalescer`, `fallback` and `idempotency_store` kinds: settings a document holds
//! for primitives that code builds (generic over their key and answer, answering with a
//! closure, or handed to a layer as a store), read back with [`Settings::coalescer`],
//! [`Settings::fallback`] and [`Settings::idempotency_store`].

use std::hash::Hash;
use std::time::Duration;

use super::kinds::{KeyError, Keys, pass_keys, settings};
use super::limiters::{at, named};
use super::value::Value;
use super::{Settings, SettingsError};
use crate::coalesce::{Coalescer, CoalescerBuilder};
use crate::fallback::{Fallback, FallbackBuilder};
use crate::idempotency::{MemoryStore, MemoryStoreBuilder};

settings! {
    /// A [`Coalescer`]'s settings (`[coalescer.<name>]`); each key is the
    /// [`CoalescerBuilder`] option of the same name. A document does not create
    /// coalescers (they are generic over their key and answer): code builds one from
    /// [`Settings::coalescer`] and reconfigures it with the same on a reload.
    pub struct CoalescerSettings {
        /// The most keys in flight at once; past it, requests for other keys run
        /// uncoalesced.
        max_keys: usize,
    }
}

settings! {
    /// A [`Fallback`]'s settings (`[fallback.<name>]`): the numbers of its stale store.
    /// Which failures it answers (kinds, classes, a predicate) and with what (a value, a
    /// closure) stay in code: they are types and closures. A document does not create
    /// fallbacks: code applies these to a builder holding the trigger and answer with
    /// [`Settings::fallback`], and reconfigures the fallback with the same on a reload.
    pub struct FallbackSettings {
        /// How old a stale answer may be ([`FallbackBuilder::stale`]'s `max_age`); only
        /// valid for a fallback built with `stale`.
        stale_max_age: Duration,
        /// The most keys the stale store holds ([`FallbackBuilder::max_keys`]).
        max_keys: usize,
    }
}

settings! {
    /// An in-memory idempotency store's settings (`[idempotency_store.<name>]`); each
    /// key is the [`MemoryStoreBuilder`] option of the same name. The shard count is
    /// left to code (it cannot change on a live store). A document does not create
    /// stores (code hands one to the idempotency layer): code builds one from
    /// [`Settings::idempotency_store`] and reconfigures it with the same on a reload.
    pub struct MemoryStoreSettings {
        /// Keys held at once, in flight or completed.
        max_entries: usize,
        /// Memory held at once, in bytes (estimated).
        max_bytes: usize,
        /// Keys one client (scope) holds at once.
        max_entries_per_scope: usize,
        /// A record younger than this is never evicted to make room.
        min_record_age: Duration,
    }
}

impl MemoryStoreSettings {
    /// The builder these settings describe.
    pub(crate) fn builder(&self) -> MemoryStoreBuilder {
        let mut b = MemoryStore::builder();
        pass_keys!(
            self,
            b,
            max_entries,
            max_bytes,
            max_entries_per_scope,
            min_record_age
        );
        b
    }
}

impl CoalescerSettings {
    /// The builder these settings describe.
    pub(crate) fn builder<K, V>(&self) -> CoalescerBuilder<K, V> {
        let mut b = Coalescer::builder();
        pass_keys!(self, b, max_keys);
        b
    }
}

impl FallbackSettings {
    /// `base` with these settings; a `stale_max_age` on a `base` without `stale` is an
    /// error.
    pub(crate) fn apply_to<T, E: 'static, K: Hash + Eq>(
        &self,
        mut b: FallbackBuilder<T, E, K>,
    ) -> Result<FallbackBuilder<T, E, K>, KeyError> {
        if let Some(max_age) = self.stale_max_age {
            b = b.stale_max_age(max_age).ok_or((
                "stale_max_age",
                "only valid for a fallback built with `stale`".to_owned(),
            ))?;
        }
        pass_keys!(self, b, max_keys);
        Ok(b)
    }

    /// Checks what can be checked without the fallback's code: the numbers.
    pub(crate) fn check(&self) -> Result<(), KeyError> {
        let b = Fallback::<(), crate::Error>::builder()
            .stale(self.stale_max_age.unwrap_or(Duration::from_secs(1)));
        let b = self.apply_to(b)?;
        b.check()
            .map_err(|e| (key(e.option()), e.problem().to_owned()))
    }
}

/// The document's key for a fallback builder's option.
fn key(option: &'static str) -> &'static str {
    match option {
        "stale" => "stale_max_age",
        option => option,
    }
}

impl Settings {
    /// The builder of the coalescer the document names `name`, with its kind's defaults
    /// filled in and named `name`: build the coalescer with it, and on each reload give
    /// [`Coalescer::reconfigure`] the one the new document describes.
    ///
    /// ```
    /// use resilience_core::coalesce::Coalescer;
    /// use resilience_core::settings::Settings;
    ///
    /// let load = |text: &str| {
    ///     Settings::from_deserializer(&mut serde_json::Deserializer::from_str(text)).unwrap()
    /// };
    /// let settings = load(r#"{ "coalescer": { "profiles": { "max_keys": 500 } } }"#);
    /// let coalescer: Coalescer<String, u64> =
    ///     settings.coalescer("profiles").unwrap().build().unwrap();
    ///
    /// // On a reload:
    /// let update = load(r#"{ "coalescer": { "profiles": { "max_keys": 2000 } } }"#);
    /// coalescer
    ///     .reconfigure(update.coalescer("profiles").unwrap())
    ///     .unwrap();
    /// assert_eq!(coalescer.max_keys(), 2000);
    /// ```
    ///
    /// # Errors
    ///
    /// The document does not name `name` under `coalescer`, or a key of it is invalid
    /// (the error names its path).
    pub fn coalescer<K, V>(&self, name: &str) -> Result<CoalescerBuilder<K, V>, SettingsError> {
        const KIND: &str = "coalescer";
        let b = named(&self.coalescer, KIND, name)?
            .builder()
            .name(name.to_owned());
        b.check().map_err(|e| at(KIND, name, &e))?;
        Ok(b)
    }

    /// `base` (a builder holding the fallback's trigger and answer, and `stale` if it
    /// keeps stale answers) with the settings of the fallback the document names `name`,
    /// its kind's defaults filled in, and named `name`: build the fallback with it, and
    /// on each reload give [`Fallback::reconfigure`] the one the new document describes
    /// on a `base` made the same way.
    ///
    /// ```
    /// use std::time::Duration;
    /// use resilience_core::fallback::Fallback;
    /// use resilience_core::settings::Settings;
    ///
    /// let load = |text: &str| {
    ///     Settings::from_deserializer(&mut serde_json::Deserializer::from_str(text)).unwrap()
    /// };
    /// let base = || Fallback::<String>::builder().stale(Duration::from_secs(60));
    /// let settings = load(r#"{ "fallback": { "prices": { "stale_max_age": "5m" } } }"#);
    /// let fallback = settings.fallback("prices", base()).unwrap().build().unwrap();
    /// assert_eq!(fallback.max_age(), Some(Duration::from_secs(300)));
    ///
    /// // On a reload:
    /// let update = load(r#"{ "fallback": { "prices": { "stale_max_age": "30s" } } }"#);
    /// fallback
    ///     .reconfigure(update.fallback("prices", base()).unwrap())
    ///     .unwrap();
    /// assert_eq!(fallback.max_age(), Some(Duration::from_secs(30)));
    /// ```
    ///
    /// # Errors
    ///
    /// The document does not name `name` under `fallback`, or a key of it is invalid
    /// (the error names its path: `stale_max_age` on a `base` without `stale` is), or
    /// `base` is.
    pub fn fallback<T, E: 'static, K: Hash + Eq>(
        &self,
        name: &str,
        base: FallbackBuilder<T, E, K>,
    ) -> Result<FallbackBuilder<T, E, K>, SettingsError> {
        const KIND: &str = "fallback";
        let b = named(&self.fallback, KIND, name)?
            .apply_to(base.name(name.to_owned()))
            .map_err(|(k, problem)| SettingsError::new(format!("{KIND}.{name}.{k}"), problem))?;
        b.check().map_err(|e| {
            SettingsError::new(format!("{KIND}.{name}.{}", key(e.option())), e.problem())
        })?;
        Ok(b)
    }

    /// The builder of the in-memory idempotency store the document names `name`, with
    /// its kind's defaults filled in and named `name`: build the store with it (setting
    /// [`shards`](MemoryStoreBuilder::shards) first if code chooses them), and on each
    /// reload give [`MemoryStore::reconfigure`] the one the new document describes.
    ///
    /// ```
    /// use resilience_core::settings::Settings;
    ///
    /// let load = |text: &str| {
    ///     Settings::from_deserializer(&mut serde_json::Deserializer::from_str(text)).unwrap()
    /// };
    /// let text = r#"{ "idempotency_store": { "checkout": { "max_entries": 50000 } } }"#;
    /// let store = load(text).idempotency_store("checkout").unwrap().build().unwrap();
    ///
    /// // On a reload:
    /// let text = r#"{ "idempotency_store": { "checkout": { "max_entries": 20000 } } }"#;
    /// store
    ///     .reconfigure(load(text).idempotency_store("checkout").unwrap())
    ///     .unwrap();
    /// assert_eq!(store.max_entries(), 20_000);
    /// ```
    ///
    /// # Errors
    ///
    /// The document does not name `name` under `idempotency_store`, or a key of it is
    /// invalid (the error names its path).
    pub fn idempotency_store(&self, name: &str) -> Result<MemoryStoreBuilder, SettingsError> {
        const KIND: &str = "idempotency_store";
        let b = named(&self.idempotency_store, KIND, name)?
            .builder()
            .name(name.to_owned());
        b.check().map_err(|e| at(KIND, name, &e))?;
        Ok(b)
    }
}
