//! [`KeyedRateLimiter`]: one limit per key, in bounded memory.

pub(crate) mod map;

use std::borrow::Borrow;
use std::fmt;
use std::hash::Hash;
use std::sync::Arc;
use std::time::Duration;

pub(crate) use self::map::KeyMap;
use super::acquire::{Acquire, Grant, Owner, Waiter};
use super::common::Common;
use super::config::{Spec, common_setters};
use super::gcra::{Gcra, Verdict};
use super::{Quota, RateLimit, RateLimitBy};
use crate::config::ConfigError;
use crate::{Error, Name, Primitive};

/// The most keys a [`KeyedRateLimiter`] may be configured to track.
pub const MAX_KEYS: usize = 1 << 28;

/// One limit per key — per client id, API key or address — with the same [`Quota`] for
/// each, in bounded memory.
///
/// ```
/// use std::net::{IpAddr, Ipv4Addr};
///
/// use resilience_core::rate_limit::KeyedRateLimiter;
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
/// let per_client = KeyedRateLimiter::<IpAddr>::builder()
///     .name("per-client")
///     .rate(10.0)
///     .burst(2)
///     .max_keys(50_000)
///     .build()
///     .expect("valid config");
///
/// let alice = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
/// let bob = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2));
/// per_client.try_acquire(&alice).unwrap();
/// per_client.try_acquire(&alice).unwrap();
/// assert!(per_client.try_acquire(&alice).is_err());
/// // Alice's flood costs Bob nothing.
/// assert!(per_client.try_acquire(&bob).is_ok());
/// # }
/// ```
///
/// Keys are borrowed for lookups: a `KeyedRateLimiter<String>` checks a `&str` and a
/// `KeyedRateLimiter<Vec<u8>>` a `&[u8]`, and copies the key only the first time it is
/// seen.
///
/// # Bounded memory
///
/// At most [`max_keys`](KeyedRateLimiterBuilder::max_keys) keys are tracked. A key whose
/// bucket is full again (it has been quiet for the refill time) holds nothing worth
/// remembering: forgetting it changes no decision. Such *idle* keys are dropped when room
/// is needed, and by [`sweep`](KeyedRateLimiter::sweep) (call it from a periodic task to
/// give memory back early).
///
/// # When the table is full
///
/// If a new key arrives when every tracked key is active, the limiter forgets the active
/// keys *nearest to a full bucket* (an eighth of a shard at a time) and admits the new key
/// under its own limit. A forgotten client gets a fresh burst early at worst; the clients
/// actually being limited (the furthest from a full bucket) are the last forgotten. So no
/// client is ever refused because others filled the table — a flood of new keys cannot
/// lock anyone out — and the table never grows past `max_keys`.
///
/// # Keys are not labels
///
/// Metrics carry the limiter's name only, never a key: the number of series stays fixed
/// however many clients there are.
///
/// # Clone
///
/// Cloning is one reference-count increment; clones share the table.
pub struct KeyedRateLimiter<K> {
    shared: Arc<Shared<K>>,
}

struct Shared<K> {
    map: KeyMap<K>,
    common: Common,
}

impl<K: Send + Sync> Owner for Shared<K> {
    fn common(&self) -> &Common {
        &self.common
    }
}

impl<K> Clone for KeyedRateLimiter<K> {
    fn clone(&self) -> Self {
        Self {
            shared: Arc::clone(&self.shared),
        }
    }
}

/// A point-in-time view of a [`KeyedRateLimiter`].
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct KeyedRateLimiterSnapshot {
    /// The instance name.
    pub name: Name,
    /// Units per second, sustained, per key.
    pub rate: f64,
    /// Units an idle key may take at once.
    pub burst: u32,
    /// Keys tracked now (idle ones not swept yet included).
    pub keys: usize,
    /// The most keys tracked at once.
    pub max_keys: usize,
}

impl<K: Hash + Eq + Send + Sync + 'static> KeyedRateLimiter<K> {
    /// A builder; a rate is required (see [`KeyedRateLimiterBuilder`]).
    pub fn builder() -> KeyedRateLimiterBuilder<K> {
        KeyedRateLimiterBuilder {
            spec: Spec::default(),
            max_keys: 100_000,
            key: std::marker::PhantomData,
        }
    }

    /// Takes one unit for `key` if its limit has room now; otherwise `RateLimited` at once.
    #[inline]
    pub fn try_acquire<Q>(&self, key: &Q) -> Result<Grant, Error>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        self.try_acquire_n(key, 1)
    }

    /// Takes `n` units for `key` if its limit has room for all of them now.
    #[inline]
    pub fn try_acquire_n<Q>(&self, key: &Q, n: u32) -> Result<Grant, Error>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        let common = &self.shared.common;
        let gcra = common.gcra();
        let Some(cost) = gcra.cost(n) else {
            return Err(common.too_costly(n));
        };
        let now = common.now();
        match self.take(gcra, key, now, cost, 0) {
            Verdict::Conform { tat, .. } => Ok(common.grant(gcra, tat - now)),
            Verdict::Refuse {
                retry_after,
                backlog,
            } => Err(common.limited(retry_after, backlog)),
        }
    }

    /// Takes one unit for `key`, waiting for its turn as `max_wait` allows; the same
    /// outcomes as [`RateLimiter::acquire`](super::RateLimiter::acquire), except that a
    /// caller that stops waiting does not give its turn back.
    #[inline]
    pub fn acquire<Q>(&self, key: &Q) -> Acquire
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        self.acquire_n(key, 1)
    }

    /// [`acquire`](Self::acquire) for `n` units.
    pub fn acquire_n<Q>(&self, key: &Q, n: u32) -> Acquire
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        let common = &self.shared.common;
        if !common.may_wait() {
            return Acquire::ready(self.try_acquire_n(key, n));
        }
        let gcra = common.gcra();
        let Some(cost) = gcra.cost(n) else {
            return Acquire::ready(Err(common.too_costly(n)));
        };
        let now = common.now();
        let (limit, by_deadline) = common.wait_limit();
        let verdict = self.take(gcra, key, now, cost, limit);
        common.resolve(verdict, now, by_deadline, || {
            let owner: Arc<dyn Owner> = self.shared.clone();
            Waiter::new(owner, 0, tokio::time::Instant::now())
        })
    }

    #[inline]
    fn take<Q>(&self, gcra: Gcra, key: &Q, now: u64, cost: u64, max_wait: u64) -> Verdict
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        self.shared
            .map
            .with(key, now, |tat| gcra.take(tat, now, cost, max_wait))
    }

    /// Applies `builder`'s rate, burst, `max_wait` and `max_keys` to this limiter in
    /// place, for every clone at once; it keeps its name. The time already granted to
    /// each key is kept, as on [`RateLimiter::reconfigure`](super::RateLimiter::reconfigure).
    /// A lower `max_keys` holds at once: keys beyond it are forgotten, the idle ones
    /// first, then those nearest to a full bucket (as when the table is full).
    ///
    /// ```
    /// use resilience_core::rate_limit::KeyedRateLimiter;
    ///
    /// let limiter = KeyedRateLimiter::<String>::builder().rate(1.0).build().unwrap();
    /// assert!(limiter.try_acquire("alice").is_ok());
    /// assert!(limiter.try_acquire("alice").is_err());
    /// limiter
    ///     .reconfigure(KeyedRateLimiter::builder().rate(1.0).burst(3).max_keys(1_000))
    ///     .unwrap();
    /// assert!(limiter.try_acquire("alice").is_ok(), "two more units of burst");
    /// assert_eq!(limiter.max_keys(), 1_000);
    /// ```
    ///
    /// # Errors
    ///
    /// The options are invalid, as [`build`](KeyedRateLimiterBuilder::build) would say,
    /// or `max_keys` is below the shards the table was built with (about one per 64 keys
    /// it was built for, a power of two up to 16); the limiter is unchanged then.
    pub fn reconfigure(&self, builder: KeyedRateLimiterBuilder<K>) -> Result<(), ConfigError> {
        let (quota, max_wait) = builder.check()?;
        let map = &self.shared.map;
        if builder.max_keys < map.min_capacity() {
            return Err(ConfigError::new(
                Primitive::RateLimit,
                "max_keys",
                format!(
                    "must be at least {} on this limiter (its shards), got {}",
                    map.min_capacity(),
                    builder.max_keys
                ),
            ));
        }
        let common = &self.shared.common;
        common.reconfigure_then(quota, max_wait, || {
            map.set_capacity(builder.max_keys, common.now());
        });
        Ok(())
    }

    /// Forgets every idle key (one whose bucket is full again) and returns how many; call
    /// it from a periodic task to give memory back before the table fills.
    pub fn sweep(&self) -> usize {
        self.shared.map.sweep(self.shared.common.now())
    }

    /// Keys tracked now.
    pub fn len(&self) -> usize {
        self.shared.map.len()
    }

    /// Whether no key is tracked.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The most keys tracked at once.
    pub fn max_keys(&self) -> usize {
        self.shared.map.capacity()
    }

    /// The instance name.
    pub fn name(&self) -> &Name {
        &self.shared.common.name
    }

    /// The limit each key gets.
    pub fn quota(&self) -> Quota {
        self.shared.common.quota()
    }

    /// How long [`acquire`](Self::acquire) may wait.
    pub fn max_wait(&self) -> Duration {
        self.shared.common.max_wait()
    }

    /// A point-in-time view for health endpoints.
    pub fn snapshot(&self) -> KeyedRateLimiterSnapshot {
        KeyedRateLimiterSnapshot {
            name: self.name().clone(),
            rate: self.quota().rate(),
            burst: self.quota().burst(),
            keys: self.len(),
            max_keys: self.max_keys(),
        }
    }
}

impl<K> fmt::Debug for KeyedRateLimiter<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let common = &self.shared.common;
        f.debug_struct("KeyedRateLimiter")
            .field("name", &common.name.as_str())
            .field("rate", &common.quota().rate())
            .field("burst", &common.quota().burst())
            .field("max_keys", &self.shared.map.capacity())
            .field("max_wait", &common.max_wait())
            .finish_non_exhaustive()
    }
}

impl<K: Hash + Eq + Send + Sync + 'static> RateLimit for KeyedRateLimiter<K> {
    fn name(&self) -> &Name {
        KeyedRateLimiter::name(self)
    }

    fn quota(&self) -> Quota {
        KeyedRateLimiter::quota(self)
    }
}

impl<K, Q> RateLimitBy<Q> for KeyedRateLimiter<K>
where
    K: Borrow<Q> + Hash + Eq + Send + Sync + 'static,
    Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
{
    #[inline]
    fn acquire_key(&self, key: &Q, n: u32) -> Acquire {
        self.acquire_n(key, n)
    }
}

/// Builds a [`KeyedRateLimiter`]; see [`KeyedRateLimiter::builder`].
///
/// The rate options are those of [`RateLimiterBuilder`](super::RateLimiterBuilder), with
/// the same defaults and checks, plus [`max_keys`](Self::max_keys) (default 100,000: a few
/// megabytes for short keys), between 1 and [`MAX_KEYS`].
#[must_use = "a builder does nothing until `build` is called"]
pub struct KeyedRateLimiterBuilder<K> {
    spec: Spec,
    max_keys: usize,
    key: std::marker::PhantomData<fn() -> K>,
}

impl<K> Clone for KeyedRateLimiterBuilder<K> {
    fn clone(&self) -> Self {
        Self {
            spec: self.spec.clone(),
            max_keys: self.max_keys,
            key: std::marker::PhantomData,
        }
    }
}

impl<K> fmt::Debug for KeyedRateLimiterBuilder<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyedRateLimiterBuilder")
            .field("spec", &self.spec)
            .field("max_keys", &self.max_keys)
            .finish()
    }
}

impl<K> KeyedRateLimiterBuilder<K> {
    /// The checks of [`build`](Self::build): the quota and `max_wait`.
    pub(crate) fn check(&self) -> Result<(Quota, Duration), ConfigError> {
        let quota = self.spec.quota()?;
        let max_wait = self.spec.checked_max_wait()?;
        if !(1..=MAX_KEYS).contains(&self.max_keys) {
            return Err(ConfigError::new(
                Primitive::RateLimit,
                "max_keys",
                format!("must be between 1 and {MAX_KEYS}, got {}", self.max_keys),
            ));
        }
        Ok((quota, max_wait))
    }
}

impl<K: Hash + Eq + Send + Sync + 'static> KeyedRateLimiterBuilder<K> {
    common_setters!();

    /// The most keys tracked at once; see [When the table is
    /// full](KeyedRateLimiter#when-the-table-is-full).
    pub fn max_keys(mut self, max_keys: usize) -> Self {
        self.max_keys = max_keys;
        self
    }

    /// Validates the options and builds the limiter.
    pub fn build(self) -> Result<KeyedRateLimiter<K>, ConfigError> {
        let (quota, max_wait) = self.check()?;
        Ok(KeyedRateLimiter {
            shared: Arc::new(Shared {
                map: KeyMap::new(self.max_keys),
                common: Common::new(self.spec.name, quota, max_wait),
            }),
        })
    }
}
