//! Rate limiting: a rate and a burst, enforced lock-free in this process
//! ([`RateLimiter`], [`KeyedRateLimiter`]) or across every instance of a service
//! (`RedisRateLimiter`, feature `redis`, on one Redis or a Redis Cluster).
//!
//! ```
//! use std::time::Duration;
//!
//! use resilience_core::rate_limit::RateLimiter;
//! use resilience_core::ErrorKind;
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
//! // 100 requests a minute, all of them at once if the caller has been quiet.
//! let limiter = RateLimiter::builder()
//!     .name("search")
//!     .limit(100, Duration::from_secs(60))
//!     .build()
//!     .expect("valid config");
//!
//! for _ in 0..100 {
//!     limiter.try_acquire().unwrap();
//! }
//! // The 101st is refused at once, with when to come back: one unit per 0.6 s.
//! let err = limiter.try_acquire().unwrap_err();
//! assert_eq!(err.kind(), ErrorKind::RateLimited);
//! assert!(err.is_rejection());
//! assert_eq!(err.retry_after(), Some(Duration::from_millis(600)));
//!
//! tokio::time::advance(Duration::from_millis(600)).await;
//! let grant = limiter.try_acquire().unwrap();
//! assert_eq!(grant.remaining(), 0);
//! # }
//! ```
//!
//! # Why
//!
//! One client, or one bug in a client, can flood an endpoint; a service that calls a
//! provider with a quota can exceed it and get throttled for longer. A rate limit refuses
//! the excess before any work is done ([`ErrorKind::RateLimited`](crate::ErrorKind::RateLimited), a rejection with a
//! `retry_after` hint, answered as 429 + `Retry-After` by `resilience-tower`), or — for a
//! client respecting a provider's quota — makes the caller wait its turn, bounded by
//! [`max_wait`](RateLimiterBuilder::max_wait) and by the ambient [deadline](crate::deadline).
//!
//! # The algorithm
//!
//! GCRA, the generic cell rate algorithm (a token bucket stored as one timestamp): an idle
//! key may take `burst` units at once, then `rate` per second. Over any window `w`, a key is
//! admitted at most `burst + rate × w` units ([`Quota::max_admitted`]). The state is one
//! `u64` per key: the time at which its bucket would be full again. An uncontended check
//! reads the clock once and does one compare-and-swap: no lock, no allocation.
//!
//! # Outcomes
//!
//! | situation | [`try_acquire`](RateLimiter::try_acquire) | [`acquire`](RateLimiter::acquire) |
//! |---|---|---|
//! | room now | a [`Grant`] | a [`Grant`], at once |
//! | room within `max_wait` and before the deadline | `RateLimited` | the turn is booked; a [`Grant`] when it comes |
//! | room only after `max_wait` | `RateLimited` + `retry_after` | `RateLimited` + `retry_after`, at once |
//! | room within `max_wait` but after the ambient deadline | `RateLimited` | `DeadlineExceeded`, at once (no wait that cannot end well) |
//! | more units than the burst ([`try_acquire_n`](RateLimiter::try_acquire_n)) | `RateLimited`, class `Permanent`, no hint | the same |
//!
//! `RateLimited` is transient by default (a retry after `retry_after` may succeed) and, as
//! a rejection, never counts against a circuit breaker. Its fields carry the limit
//! (`limit` = burst, `window` = refill time, `reset` = time until the burst is back), from
//! which `resilience-tower` writes the `RateLimit` and `RateLimit-Policy` headers.
//!
//! # Clock
//!
//! A check is mostly a clock read, so limiters read the CPU's timestamp counter (through
//! quanta, calibrated against the monotonic clock, as governor does) rather than
//! `clock_gettime`, which costs two to three times as much. A limiter built while tokio's
//! clock is paused (a `#[tokio::test(start_paused = true)]`, or after
//! `tokio::time::pause()`) follows tokio's clock instead, so tests drive it with
//! `tokio::time::advance`: build limiters in the test, after pausing. Waits always sleep on
//! tokio's timer, and deadlines are tokio instants.
//!
//! # Where the logic lives
//!
//! Every limiter decides in its `acquire` (one unit now, a booked turn, or a refusal) and
//! returns an [`Acquire`]; [`Guarded`] is the one future that runs work once that turn is
//! granted: at once, after the wait, or never. [`call`](RateLimiter::call) and
//! [`guard`](RateLimiter::guard) make it; the tower layer makes it from any limiter's
//! `Acquire` (calling its inner service in place when admitted, keeping the request while
//! it waits); `#[resilient(rate_limit = ...)]` nests it around each attempt.
//!
//! # Keys
//!
//! [`KeyedRateLimiter`] gives each key (client id, API key, address) its own limit, in
//! bounded memory: see its docs for what happens when the table is full. Keys are never
//! metric labels.
//!
//! # Telemetry
//!
//! Handles are resolved once, at `build`, labelled with the instance name:
//! `resilience_rate_limit_permitted_total`, `resilience_rate_limit_limited_total` (every
//! refusal, deadline included), `resilience_rate_limit_wait_seconds` (only callers that
//! waited) and `resilience_rate_limit_store_errors_total` (Redis failures). A refusal also
//! emits a `DEBUG` event.

mod acquire;
mod clock;
mod common;
mod config;
mod gcra;
mod guard;
mod keyed;
#[cfg(feature = "redis")]
mod redis;

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

pub use acquire::{Acquire, Grant};
pub use common::{FIELD_LIMIT, FIELD_RESET, FIELD_WINDOW};
pub use config::{MAX_RATE, MAX_REFILL, Quota, RateLimiterBuilder};
pub use guard::Guarded;
pub use keyed::{KeyedRateLimiter, KeyedRateLimiterBuilder, KeyedRateLimiterSnapshot, MAX_KEYS};
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub use redis::{RedisKey, RedisRateLimiter, RedisRateLimiterBuilder, StoreFailure};

use self::acquire::{Owner, Waiter};
use self::common::Common;
use self::gcra::{Gcra, Verdict};
use crate::outcome::{self, Outcome};
use crate::{Error, Name};

/// A rate limit for one thing (an outgoing dependency, a whole endpoint); see the
/// [module docs](self).
///
/// # Clone
///
/// Cloning is one reference-count increment. Clones share the limit: every clone (in every
/// layer and task) takes from the same budget.
#[derive(Clone)]
pub struct RateLimiter {
    shared: Arc<Shared>,
}

struct Shared {
    /// The theoretical arrival time, in nanoseconds of `common`'s clock.
    tat: AtomicU64,
    common: Common,
}

impl Owner for Shared {
    fn common(&self) -> &Common {
        &self.common
    }

    fn refund(&self, cost: u64) {
        // Only a caller still waiting gives back, so the TAT is ahead of now by at least
        // its booking: subtracting it is exactly as if it had never asked.
        let _ = self
            .tat
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |tat| {
                Some(tat.saturating_sub(cost))
            });
    }
}

/// A point-in-time view of a [`RateLimiter`], for health endpoints and registries.
///
/// With feature `serde` it serializes with the field names below, `max_wait` in seconds.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct RateLimiterSnapshot {
    /// The instance name.
    pub name: Name,
    /// Units per second, sustained.
    pub rate: f64,
    /// Units an idle limiter admits at once.
    pub burst: u32,
    /// Whole units available right now.
    pub available: u64,
    /// How long `acquire` may wait.
    #[cfg_attr(feature = "serde", serde(serialize_with = "crate::ser::duration_secs"))]
    pub max_wait: Duration,
}

impl RateLimiter {
    /// A builder; a rate is required (see [`RateLimiterBuilder`]).
    pub fn builder() -> RateLimiterBuilder {
        RateLimiterBuilder::default()
    }

    pub(crate) fn from_parts(name: Name, quota: Quota, max_wait: Duration) -> Self {
        Self {
            shared: Arc::new(Shared {
                tat: AtomicU64::new(0),
                common: Common::new(name, quota, max_wait),
            }),
        }
    }

    /// Takes one unit if the limit has room now; otherwise `RateLimited` at once, with a
    /// `retry_after` hint.
    #[inline]
    pub fn try_acquire(&self) -> Result<Grant, Error> {
        // One unit always fits: the burst is at least 1.
        let gcra = self.shared.common.gcra();
        self.try_take(gcra, gcra.interval)
    }

    /// Takes `n` units (a weighted request) if the limit has room for all of them now.
    /// `n` of zero or above the burst can never be admitted: `RateLimited` with class
    /// `Permanent`.
    #[inline]
    pub fn try_acquire_n(&self, n: u32) -> Result<Grant, Error> {
        let common = &self.shared.common;
        let gcra = common.gcra();
        match gcra.cost(n) {
            Some(cost) => self.try_take(gcra, cost),
            None => Err(common.too_costly(n)),
        }
    }

    #[inline]
    fn try_take(&self, gcra: Gcra, cost: u64) -> Result<Grant, Error> {
        let common = &self.shared.common;
        let now = common.now();
        match gcra.take(&self.shared.tat, now, cost, 0) {
            Verdict::Conform { tat, .. } => Ok(common.grant(gcra, tat - now)),
            Verdict::Refuse {
                retry_after,
                backlog,
            } => Err(common.limited(retry_after, backlog)),
        }
    }

    /// Takes one unit, waiting for its turn if [`max_wait`](RateLimiterBuilder::max_wait)
    /// allows; see the table in the [module docs](self).
    ///
    /// The decision is made when `acquire` is called, not when the future is first polled:
    /// a caller that must wait has booked its turn already, so callers are served in the
    /// order they called. Dropping the future before the turn comes gives it back.
    #[inline]
    pub fn acquire(&self) -> Acquire {
        self.acquire_n(1)
    }

    /// [`acquire`](Self::acquire) for `n` units.
    #[inline(always)]
    pub fn acquire_n(&self, n: u32) -> Acquire {
        let common = &self.shared.common;
        let gcra = common.gcra();
        let Some(cost) = gcra.cost(n) else {
            return Acquire::ready(Err(common.too_costly(n)));
        };
        let now = common.now();
        match gcra.take(&self.shared.tat, now, cost, 0) {
            Verdict::Conform { tat, .. } => Acquire::ready(Ok(common.grant(gcra, tat - now))),
            Verdict::Refuse {
                retry_after,
                backlog,
            } if !common.may_wait() => Acquire::ready(Err(common.limited(retry_after, backlog))),
            Verdict::Refuse { .. } => self.acquire_slow(now, cost),
        }
    }

    #[cold]
    fn acquire_slow(&self, now: u64, cost: u64) -> Acquire {
        let common = &self.shared.common;
        let (limit, by_deadline) = common.wait_limit();
        let verdict = common.gcra().take(&self.shared.tat, now, cost, limit);
        common.resolve(verdict, now, by_deadline, || {
            let owner: Arc<dyn Owner> = self.shared.clone();
            Waiter::new(owner, cost, tokio::time::Instant::now())
        })
    }

    /// Runs `operation` once a unit is acquired (asked for when the returned future is
    /// first polled; it may wait as configured): the [`Guarded`] call of
    /// [`guard`](Self::guard).
    ///
    /// # Errors
    ///
    /// The limit refused the call (`RateLimited`, or `DeadlineExceeded` when the turn would
    /// come after the ambient deadline); `operation` was not run.
    #[inline]
    pub fn call<F: Future>(&self, operation: F) -> impl Future<Output = Result<F::Output, Error>> {
        let work = outcome::lift(outcome::Map::new(operation, Ok::<_, Infallible>));
        let guarded = outcome::Lazy::new(move || self.guard(work));
        outcome::Map::new(
            guarded,
            |outcome: Outcome<F::Output, Infallible>| match outcome {
                Ok(Ok(output)) => Ok(output),
                Ok(Err(never)) => match never {},
                Err(error) => Err(error),
            },
        )
    }

    /// The instance name.
    pub fn name(&self) -> &Name {
        &self.shared.common.name
    }

    /// Applies `builder`'s rate, burst and `max_wait` to this limiter in place, for every
    /// clone at once. The time already granted is kept: a burst spent under the old quota
    /// is not handed out again, and callers already waiting keep their turn. The limiter
    /// keeps its name.
    ///
    /// ```
    /// use resilience_core::rate_limit::RateLimiter;
    ///
    /// let limiter = RateLimiter::builder().rate(1.0).build().unwrap();
    /// assert!(limiter.try_acquire().is_ok());
    /// assert!(limiter.try_acquire().is_err());
    /// limiter.reconfigure(RateLimiter::builder().rate(1.0).burst(3)).unwrap();
    /// assert!(limiter.try_acquire().is_ok(), "two more units of burst");
    /// ```
    ///
    /// # Errors
    ///
    /// The options are invalid, as [`build`](RateLimiterBuilder::build) would say; the
    /// limiter is unchanged then.
    pub fn reconfigure(&self, builder: RateLimiterBuilder) -> Result<(), crate::ConfigError> {
        let quota = builder.spec.quota()?;
        let max_wait = builder.spec.checked_max_wait()?;
        self.shared.common.reconfigure(quota, max_wait);
        Ok(())
    }

    /// The limit enforced.
    pub fn quota(&self) -> Quota {
        self.shared.common.quota()
    }

    /// How long [`acquire`](Self::acquire) may wait.
    pub fn max_wait(&self) -> Duration {
        self.shared.common.max_wait()
    }

    /// Whole units available right now.
    pub fn available(&self) -> u64 {
        let common = &self.shared.common;
        let backlog = self
            .shared
            .tat
            .load(Ordering::Relaxed)
            .saturating_sub(common.now());
        common.gcra().remaining(backlog)
    }

    /// A point-in-time view for health endpoints and registries.
    pub fn snapshot(&self) -> RateLimiterSnapshot {
        let quota = self.quota();
        RateLimiterSnapshot {
            name: self.name().clone(),
            rate: quota.rate(),
            burst: quota.burst(),
            available: self.available(),
            max_wait: self.max_wait(),
        }
    }

    /// Whether `self` and `other` are clones of the same limiter.
    pub fn same_as(&self, other: &RateLimiter) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }
}

impl fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let quota = self.quota();
        f.debug_struct("RateLimiter")
            .field("name", &self.name().as_str())
            .field("rate", &quota.rate())
            .field("burst", &quota.burst())
            .field("available", &self.available())
            .field("max_wait", &self.max_wait())
            .finish()
    }
}

/// A rate limit, whatever it is keyed by: its name and quota, for telemetry and for the
/// `RateLimit-Policy` header of `resilience-tower`.
pub trait RateLimit: Send + Sync {
    /// The instance name (the policy name of `RateLimit` headers).
    fn name(&self) -> &Name;

    /// The limit each key gets.
    fn quota(&self) -> Quota;
}

/// A rate limit that decides for a request identified by a key of type `K`: what the
/// tower layer of `resilience-tower` calls, whichever limiter it holds.
///
/// - [`RateLimiter`] is `RateLimitBy<()>`: one limit for everything.
/// - [`KeyedRateLimiter<K>`] is `RateLimitBy<Q>` for every `Q` that `K` borrows as (a
///   `KeyedRateLimiter<Vec<u8>>` takes `[u8]` keys without copying them on a hit).
/// - `RedisRateLimiter` is `RateLimitBy<K>` for every `RedisKey` (feature `redis`).
pub trait RateLimitBy<K: ?Sized>: RateLimit {
    /// Takes `n` units for `key`, waiting as the limiter's `max_wait` allows.
    fn acquire_key(&self, key: &K, n: u32) -> Acquire;
}

impl RateLimit for RateLimiter {
    fn name(&self) -> &Name {
        RateLimiter::name(self)
    }

    fn quota(&self) -> Quota {
        RateLimiter::quota(self)
    }
}

impl RateLimitBy<()> for RateLimiter {
    #[inline(always)]
    fn acquire_key(&self, _: &(), n: u32) -> Acquire {
        self.acquire_n(n)
    }
}
