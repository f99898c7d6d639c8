//! Client-side adaptive throttling: stop sending what a backend is already rejecting.
//!
//! ```
//! use std::time::Duration;
//!
//! use resilience_core::throttle::AdaptiveThrottle;
//! use resilience_core::{Error, ErrorKind};
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
//! let throttle = AdaptiveThrottle::builder()
//!     .name("recommendations")
//!     .window(Duration::from_secs(10))
//!     .build()
//!     .expect("valid config");
//!
//! // The backend sheds every call (a full bulkhead over there is a rejection here).
//! let mut sent = 0;
//! let mut throttled = 0;
//! for _ in 0..1_000 {
//!     let result = throttle
//!         .call(async {
//!             sent += 1;
//!             Err::<(), _>(Error::new(ErrorKind::BulkheadFull))
//!         })
//!         .await;
//!     if result.is_err_and(|e| e.kind() == ErrorKind::Throttled) {
//!         throttled += 1;
//!     }
//! }
//! // Almost nothing reaches it: requests − 2 × accepts leaves nothing to send.
//! assert!(sent < 20, "{sent}");
//! assert_eq!(sent + throttled, 1_000);
//! assert!(throttle.rejection_probability() > 0.99);
//! # }
//! ```
//!
//! # Why throttle on the client
//!
//! A backend that is overloaded rejects calls cheaply, but not for free: each rejected
//! call still costs a connection, a parse and an answer, and a client that keeps sending
//! at full rate keeps it overloaded. Google's SRE book (chapter "Handling Overload")
//! describes the remedy: each client keeps, over the last two minutes, the number of
//! `requests` it attempted and the number of `accepts` the backend took, and refuses a
//! new request locally with probability
//!
//! ```text
//! max(0, (requests − K × accepts) / (requests + 1))
//! ```
//!
//! While the backend accepts, `requests ≈ accepts` and nothing is refused. Once it
//! rejects more than `1 − 1/K` of what it gets, the client sends about `K × accepts` and
//! refuses the rest itself, at no cost to the backend; locally refused requests count as
//! requests, so the probability follows what the backend does. With `K = 2` (the book's
//! default) a client tolerates a backend that rejects half of its calls.
//!
//! # What is a rejection
//!
//! An outcome is "not accepted" when the [`Rejection`] judge says so; the default,
//! [`Rejections`], counts a resilience [`Error`] that is a rejection with a transient
//! class: an open breaker (`CircuitOpen`), a full bulkhead or another throttle further in,
//! as the operation's own error or a primitive's. The tower layer's HTTP judge adds `503`
//! and `429` answers. Everything else, failures included, was accepted: the backend took
//! the request. A call whose future is dropped before it completes is not counted.
//!
//! Refused calls fail with [`ErrorKind::Throttled`], a rejection (the operation was never
//! called) with a transient class.
//!
//! # Recovery
//!
//! When the backend accepts again, what gets through is accepted, `accepts` grows and the
//! probability falls: sending grows about `e`-fold every `window / K`, and is back to full
//! once the window no longer remembers the rejections. A shorter window recovers faster
//! and forgets an outage sooner.
//!
//! # Telemetry
//!
//! `resilience_throttle_rejected_total` (counter, labelled with the instance name) and a
//! `DEBUG` event for each refusal; [`snapshot`](AdaptiveThrottle::snapshot) gives the
//! counts and the current probability.

mod config;
mod guard;

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use arc_swap::ArcSwap;
use tokio::time::Instant;

pub use config::AdaptiveThrottleBuilder;
pub use guard::{Guarded, Rejection, Rejections};

use crate::circuit_breaker::window::{Outcome as Counted, TimeWindow, Totals};
use crate::durations::nanos;
use crate::outcome;
use crate::{BoxError, Error, ErrorKind, Name, Primitive, rng};

/// Client-side adaptive throttling, as the Google SRE book describes it; see the
/// [module docs](self).
///
/// # Clone
///
/// Cloning is one reference-count increment; clones share the window of counts, so
/// every clone throttles from the same history. Build one per backend.
#[derive(Clone)]
pub struct AdaptiveThrottle {
    shared: Arc<Shared>,
}

struct Shared {
    name: Name,
    /// The multiplier and the window of counts, swapped whole by
    /// [`reconfigure`](AdaptiveThrottle::reconfigure).
    tuned: ArcSwap<Tuned>,
    base: Instant,
    rng: AtomicU64,
    rejected: metrics::Counter,
}

/// A point-in-time view of an [`AdaptiveThrottle`], for health endpoints and registries.
///
/// With feature `serde` it serializes with the field names below.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct AdaptiveThrottleSnapshot {
    /// The instance name.
    pub name: Name,
    /// Requests attempted over the window, refused ones included.
    pub requests: u32,
    /// Requests the backend accepted over the window.
    pub accepts: u32,
    /// The probability that the next request is refused locally.
    pub rejection_probability: f64,
}

impl AdaptiveThrottle {
    /// A builder with the SRE book's defaults (K = 2 over two minutes); see
    /// [`AdaptiveThrottleBuilder`].
    pub fn builder() -> AdaptiveThrottleBuilder {
        AdaptiveThrottleBuilder::default()
    }

    /// Decides whether the next request may be sent: `Ok` to send it (then report how it
    /// went with [`record`](Self::record)), or the `Throttled` rejection, already counted
    /// as a request that was not accepted. [`guard`](Self::guard) does both.
    pub fn try_admit(&self) -> Result<(), Error> {
        let now = self.now();
        let tuned = self.shared.tuned.load();
        let p = probability(tuned.multiplier, tuned.window.totals(now));
        if p > 0.0 && self.uniform() < p {
            tuned.window.record(NOT_ACCEPTED, now);
            return Err(self.throttled(p));
        }
        Ok(())
    }

    /// Counts a request that was sent: accepted by the backend, or not.
    pub fn record(&self, accepted: bool) {
        let counted = if accepted { ACCEPTED } else { NOT_ACCEPTED };
        self.shared.tuned.load().window.record(counted, self.now());
    }

    /// The throttle's work around `operation` (a future producing an
    /// [`Outcome`](outcome::Outcome)), with `judge` deciding what the backend rejected:
    /// decides now; see [`Guarded`].
    pub fn guard<F, R>(&self, judge: R, operation: F) -> Guarded<F, R> {
        match self.try_admit() {
            Ok(()) => Guarded::admitted(self.clone(), judge, operation),
            Err(error) => Guarded::refused(error, judge),
        }
    }

    /// Runs `operation` unless the throttle refuses it (decided when the returned future is
    /// first polled), judging its outcome with
    /// [`Rejections`]. The operation's own error comes back as kind
    /// [`Inner`](ErrorKind::Inner) (an [`Error`] passes through).
    ///
    /// # Errors
    ///
    /// `Throttled` when refused locally, else the operation's error.
    pub fn call<T, E, F>(&self, operation: F) -> impl Future<Output = Result<T, Error>>
    where
        F: Future<Output = Result<T, E>>,
        E: Into<BoxError> + 'static,
    {
        let work = outcome::lift(operation);
        let guarded = outcome::Lazy::new(move || self.guard(Rejections, work));
        outcome::Map::new(guarded, outcome::into_result)
    }

    /// The probability that the next request is refused locally.
    pub fn rejection_probability(&self) -> f64 {
        let tuned = self.shared.tuned.load();
        probability(tuned.multiplier, tuned.window.totals(self.now()))
    }

    /// Applies `builder`'s multiplier and window to this throttle in place, for every
    /// clone at once. The counts are kept when the window's length is unchanged; a new
    /// length starts an empty window (nothing is refused until it fills again). The
    /// throttle keeps its name.
    ///
    /// ```
    /// use resilience_core::throttle::AdaptiveThrottle;
    ///
    /// let throttle = AdaptiveThrottle::builder().multiplier(1.0).build().unwrap();
    /// for _ in 0..10 {
    ///     throttle.record(false);
    /// }
    /// let before = throttle.rejection_probability();
    /// throttle
    ///     .reconfigure(AdaptiveThrottle::builder().multiplier(1.0))
    ///     .unwrap();
    /// assert_eq!(throttle.rejection_probability(), before, "same window: counts kept");
    /// ```
    ///
    /// # Errors
    ///
    /// The options are invalid, as [`build`](AdaptiveThrottleBuilder::build) would say;
    /// the throttle is unchanged then.
    pub fn reconfigure(&self, builder: AdaptiveThrottleBuilder) -> Result<(), crate::ConfigError> {
        let (multiplier, window) = builder.check()?;
        let old = self.shared.tuned.load();
        let next = if old.window_len == window {
            Tuned {
                multiplier,
                window: Arc::clone(&old.window),
                window_len: window,
            }
        } else {
            Tuned::new(multiplier, window)
        };
        self.shared.tuned.store(Arc::new(next));
        Ok(())
    }

    /// The instance name.
    pub fn name(&self) -> &Name {
        &self.shared.name
    }

    /// A point-in-time view for health endpoints and registries.
    pub fn snapshot(&self) -> AdaptiveThrottleSnapshot {
        let tuned = self.shared.tuned.load();
        let totals = tuned.window.totals(self.now());
        AdaptiveThrottleSnapshot {
            name: self.shared.name.clone(),
            requests: totals.calls,
            accepts: totals.calls.saturating_sub(totals.failures),
            rejection_probability: probability(tuned.multiplier, totals),
        }
    }

    /// Whether `self` and `other` are clones of the same throttle.
    pub fn same_as(&self, other: &AdaptiveThrottle) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }

    fn now(&self) -> u64 {
        nanos(self.shared.base.elapsed())
    }

    /// A uniform draw in `[0, 1)`: splitmix64 over a shared counter (one atomic add, no
    /// lock, no `rand`).
    fn uniform(&self) -> f64 {
        rng::unit(self.shared.rng.fetch_add(rng::GAMMA, Relaxed))
    }

    #[cold]
    fn throttled(&self, p: f64) -> Error {
        self.shared.rejected.increment(1);
        tracing::debug!(
            throttle = self.shared.name.as_str(),
            rejection_probability = p,
            "adaptive throttle refused a call"
        );
        Error::new(ErrorKind::Throttled)
            .or_origin(Primitive::Throttle, self.shared.name.clone())
            .with_field("rejection_probability", p)
    }
}

const ACCEPTED: Counted = Counted {
    failure: false,
    slow: false,
};
const NOT_ACCEPTED: Counted = Counted {
    failure: true,
    slow: false,
};

/// `max(0, (requests − K·accepts) / (requests + 1))`.
fn probability(multiplier: f64, totals: Totals) -> f64 {
    let requests = f64::from(totals.calls);
    let accepts = f64::from(totals.calls.saturating_sub(totals.failures));
    ((requests - multiplier * accepts) / (requests + 1.0)).max(0.0)
}

/// A multiplier and the window of counts it judges.
pub(crate) struct Tuned {
    multiplier: f64,
    window: Arc<TimeWindow>,
    window_len: Duration,
}

impl Tuned {
    pub(crate) fn new(multiplier: f64, window: Duration) -> Self {
        Self {
            multiplier,
            window: Arc::new(TimeWindow::new(config::BUCKETS, bucket_nanos(window))),
            window_len: window,
        }
    }
}

/// How long each of the window's buckets lasts for a window of `window`.
pub(crate) fn bucket_nanos(window: Duration) -> u64 {
    u64::try_from(window.as_nanos() / u128::from(config::BUCKETS))
        .unwrap_or(u64::MAX)
        .max(1)
}

impl fmt::Debug for AdaptiveThrottle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AdaptiveThrottle")
            .field("name", &self.shared.name.as_str())
            .field("multiplier", &self.shared.tuned.load().multiplier)
            .field("rejection_probability", &self.rejection_probability())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn totals(requests: u32, accepts: u32) -> Totals {
        Totals {
            calls: requests,
            failures: requests - accepts,
            slow: 0,
        }
    }

    #[test]
    fn probability_is_the_sre_formula_floored_at_zero() {
        assert_eq!(probability(2.0, totals(0, 0)), 0.0);
        assert_eq!(probability(2.0, totals(100, 100)), 0.0);
        assert_eq!(probability(2.0, totals(100, 50)), 0.0);
        assert!((probability(2.0, totals(99, 10)) - 0.79).abs() < 1e-12);
        assert!((probability(1.5, totals(99, 0)) - 0.99).abs() < 1e-12);
    }

    #[test]
    fn draws_are_uniform_enough_to_throttle_by_probability() {
        let throttle = AdaptiveThrottle::builder().build().unwrap();
        let below = (0..10_000).filter(|_| throttle.uniform() < 0.3).count();
        assert!((2_800..3_200).contains(&below), "{below}");
    }
}
