//! Adaptive concurrency limits: a [bulkhead](mod@crate::bulkhead) whose capacity is found by
//! measuring the dependency instead of guessed.
//!
//! ```
//! use std::time::Duration;
//!
//! use resilience_core::adaptive::{AdaptiveBulkhead, Aimd};
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
//! let limiter = AdaptiveBulkhead::builder()
//!     .name("search")
//!     .algorithm(
//!         Aimd::builder()
//!             .initial_limit(10)
//!             .min_limit(2)
//!             .max_limit(100)
//!             .timeout(Duration::from_millis(50))
//!             .build()
//!             .expect("valid AIMD"),
//!     )
//!     .min_window(Duration::from_millis(100))
//!     .max_window(Duration::from_millis(100))
//!     .build()
//!     .expect("valid config");
//! assert_eq!(limiter.limit(), 10);
//!
//! // Ten callers at a time, 20 ms a call: fast and fully used, so AIMD adds a slot per
//! // window.
//! for _ in 0..50 {
//!     let round: Vec<_> = (0..10)
//!         .map(|_| {
//!             let limiter = limiter.clone();
//!             tokio::spawn(async move {
//!                 let work = tokio::time::sleep(Duration::from_millis(20));
//!                 limiter.call(async { Ok::<_, std::io::Error>(work.await) }).await
//!             })
//!         })
//!         .collect();
//!     for call in round {
//!         call.await.unwrap().unwrap();
//!     }
//! }
//! assert!(limiter.limit() > 10);
//! assert_eq!(limiter.snapshot().algorithm, "aimd");
//! # }
//! ```
//!
//! # Why adapt
//!
//! A fixed bulkhead size is a guess. Too small wastes the dependency's capacity; too
//! large lets a slow dependency hold every worker while requests queue inside it. The
//! right number moves with deploys, autoscaling and the other clients of the same
//! dependency. By Little's law a dependency serving `r` calls a second in `t` seconds
//! holds `r·t` of them; past its capacity, calls only queue, and latency rises. So the
//! limit is set from latency and failures, as TCP sets its congestion window: grow while
//! calls are fast and succeed, shrink when they slow down or fail.
//!
//! # The algorithms
//!
//! - [`Aimd`]: one more slot per window while calls succeed, `× 0.9` on a failure or a
//!   window slower than a timeout. Simple and predictable; reacts to failures and to a
//!   latency line you set.
//! - [`Vegas`]: estimates the queue at the dependency from how much slower calls are
//!   than the fastest seen and keeps it small. Follows latency itself; the default, as in
//!   Netflix concurrency-limits.
//!
//! Both take their defaults from Netflix concurrency-limits (named in each builder's
//! table), are fed one [`Sample`] per window of calls (Netflix's `WindowedLimit`: one
//! second, at least 10 calls) and stay within their `[min_limit, max_limit]`. Bring your
//! own by implementing [`LimitAlgorithm`].
//!
//! # The same bulkhead
//!
//! An adaptive bulkhead is a [`Bulkhead`] whose limit moves: the same permits (one
//! compare-and-swap to take, one to give back), the same bounded FIFO queue, `max_wait`,
//! deadline handling, RAII release and `BulkheadFull` errors ([`bulkhead`](AdaptiveBulkhead::bulkhead)
//! gives access to it). When the limit is lowered, calls already in flight above it
//! finish; releases bring the count down to the new limit before any waiter is served.
//! When it is raised, waiters are served at once.
//!
//! Each call's [`Guarded`] carries a [`Sampler`] that times it from permit to outcome and
//! reports whether it failed, as its classifier judges ([`TransientErrors`] by default:
//! every `Err` is a failure). Rejections from further in and `Benign` outcomes are not
//! samples; neither are calls dropped before they completed. Once a window has enough
//! samples, only one call in 64 is timed, so the clock is read on few calls.
//!
//! # Deadline-aware admission
//!
//! A caller that would have to queue, and whose ambient [deadline](crate::deadline)
//! leaves less time than it would probably wait, is refused at once with
//! `DeadlineExceeded` (`reason=expected_wait`) instead of waiting to fail. The expected
//! wait is its place in the queue times the last window's average latency, divided by the
//! limit: slots free up at `limit / latency`.
//!
//! # Telemetry
//!
//! The bulkhead's own metrics (`resilience_bulkhead_in_flight`,
//! `resilience_bulkhead_rejected_total`, `resilience_bulkhead_wait_seconds`), plus
//! `resilience_concurrency_limit` (gauge, the current limit), all labelled with the
//! instance name; a `DEBUG` event when the limit moves.

mod aimd;
mod algorithm;
mod config;
mod control;
mod sampler;
mod vegas;

use std::fmt;
use std::future::Future;
use std::time::Duration;

pub use aimd::{Aimd, AimdBuilder};
pub use algorithm::{LimitAlgorithm, Sample};
pub use config::AdaptiveBulkheadBuilder;
pub(crate) use control::Control;
pub use sampler::Sampler;
pub use vegas::{Vegas, VegasBuilder};

use crate::bulkhead::{self, Admission, Bulkhead, at_most};
use crate::classify::TransientErrors;
use crate::config::{ConfigError, check};
use crate::outcome::{self, Outcome};
use crate::{BoxError, Classify, Error, Name, Primitive};

/// A call through an [`AdaptiveBulkhead`]: the bulkhead's [`Guarded`](bulkhead::Guarded)
/// future, reporting to a [`Sampler`].
pub type Guarded<D, C> = bulkhead::Guarded<D, Sampler<C>>;

/// A [`Bulkhead`] whose limit a [`LimitAlgorithm`] moves; see the [module docs](self).
///
/// # Clone
///
/// Cloning is one reference-count increment; clones share the bulkhead, the algorithm
/// and the current window.
#[derive(Clone)]
pub struct AdaptiveBulkhead {
    bulkhead: Bulkhead,
}

/// A point-in-time view of an [`AdaptiveBulkhead`], for health endpoints and registries.
///
/// With feature `serde` it serializes with the field names below, `latency` in seconds
/// (`null` before the first full window).
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct AdaptiveBulkheadSnapshot {
    /// The instance name.
    pub name: Name,
    /// The algorithm's name (`"aimd"`, `"vegas"`).
    pub algorithm: &'static str,
    /// The current limit.
    pub limit: usize,
    /// The lowest the limit goes.
    pub min_limit: usize,
    /// The highest the limit goes.
    pub max_limit: usize,
    /// Permits held now (may exceed `limit` for a while after it was lowered).
    pub in_flight: usize,
    /// Callers queued for a permit now.
    pub waiting: usize,
    /// The last full window's average latency, once there is one.
    #[cfg_attr(
        feature = "serde",
        serde(serialize_with = "crate::ser::option_duration_secs")
    )]
    pub latency: Option<Duration>,
}

impl AdaptiveBulkhead {
    /// A builder with the documented defaults (the [`Vegas`] algorithm with Netflix's
    /// defaults, windows of one second); see [`AdaptiveBulkheadBuilder`].
    pub fn builder() -> AdaptiveBulkheadBuilder {
        AdaptiveBulkheadBuilder::default()
    }

    pub(crate) fn from_bulkhead(bulkhead: Bulkhead) -> Self {
        Self { bulkhead }
    }

    fn control(&self) -> &Control {
        self.bulkhead
            .control()
            .expect("an adaptive bulkhead always has a control")
    }

    /// Asks for a permit now: admitted, queued or refused, as [`Bulkhead::admit`]. Build
    /// the call's [`Guarded`] from it with a [`Sampler`] (what the tower layer does), or
    /// let [`guard`](Self::guard) do all of it.
    #[inline]
    pub fn admit(&self) -> Admission {
        self.bulkhead.admit()
    }

    /// The bulkhead's work around `work` (a future producing an [`Outcome`]), sampled for
    /// the algorithm with `classifier`: asks for a permit now; see [`bulkhead::Guarded`].
    #[inline(always)]
    pub fn guard<F, C, T, E>(&self, classifier: C, work: F) -> Guarded<F, C>
    where
        F: Future<Output = Outcome<T, E>>,
        C: Classify<T, E>,
        E: 'static,
    {
        self.bulkhead
            .guard(work)
            .with_observer(Sampler::new(classifier))
    }

    /// Runs `operation` holding a permit (asked for when the returned future is first
    /// polled), as [`Bulkhead::call`], judging its outcome with
    /// [`TransientErrors`] (every `Err` is a failure). The operation's own error comes back
    /// as kind [`Inner`](crate::ErrorKind::Inner) (an [`Error`] passes through).
    ///
    /// # Errors
    ///
    /// The bulkhead refused the call, or the operation failed.
    pub fn call<T, E, F>(&self, operation: F) -> impl Future<Output = Result<T, Error>>
    where
        F: Future<Output = Result<T, E>>,
        E: Into<BoxError> + 'static,
    {
        self.call_with(&TransientErrors, operation)
    }

    /// [`call`](Self::call) with a classifier of your own.
    ///
    /// # Errors
    ///
    /// The bulkhead refused the call, or the operation failed.
    pub fn call_with<T, E, C, F>(
        &self,
        classifier: &C,
        operation: F,
    ) -> impl Future<Output = Result<T, Error>>
    where
        C: Classify<T, E> + ?Sized,
        F: Future<Output = Result<T, E>>,
        E: Into<BoxError> + 'static,
    {
        let work = outcome::lift(operation);
        let guarded = outcome::Lazy::new(move || self.guard(classifier, work));
        outcome::Map::new(guarded, outcome::into_result)
    }

    /// Applies `builder`'s options to this adaptive bulkhead in place, for every clone
    /// at once; it keeps its name. Permits held and callers queued are kept; the queue's
    /// `max_waiting`, `max_wait` and `retry_after` apply as on
    /// [`Bulkhead::reconfigure`], the window options from the next window's end (a
    /// shorter `max_window` also shortens the window under way).
    ///
    /// The algorithm: one configured as the running one (same kind, same options) is
    /// kept with what it has learnt; another replaces it, carrying on from the current
    /// limit clamped into its bounds (so `initial_limit` only sets where a new instance
    /// starts). A limit lowered below the permits held holds once the calls above it
    /// finish.
    ///
    /// ```
    /// use resilience_core::adaptive::{AdaptiveBulkhead, Aimd};
    ///
    /// let bulkhead = AdaptiveBulkhead::builder().build().unwrap(); // Vegas, limit 20
    /// assert_eq!(bulkhead.limit(), 20);
    /// let aimd = Aimd::builder().min_limit(2).max_limit(10).initial_limit(5);
    /// bulkhead
    ///     .reconfigure(AdaptiveBulkhead::builder().algorithm(aimd.build().unwrap()))
    ///     .unwrap();
    /// assert_eq!(bulkhead.snapshot().algorithm, "aimd");
    /// assert_eq!(bulkhead.limit(), 10, "20 carried over, clamped to the new max");
    /// ```
    ///
    /// # Errors
    ///
    /// The options are invalid, as [`build`](AdaptiveBulkheadBuilder::build) would say;
    /// the bulkhead is unchanged then.
    pub fn reconfigure(&self, builder: AdaptiveBulkheadBuilder) -> Result<(), ConfigError> {
        let (bulkhead, algorithm, windows) = builder.check()?;
        self.bulkhead.reconfigure(bulkhead)?;
        self.control()
            .reconfigure(self.bulkhead.slots(), algorithm, windows);
        Ok(())
    }

    /// The underlying bulkhead: its permits, queue and figures.
    pub fn bulkhead(&self) -> &Bulkhead {
        &self.bulkhead
    }

    /// The instance name.
    pub fn name(&self) -> &Name {
        self.bulkhead.name()
    }

    /// The current limit.
    pub fn limit(&self) -> usize {
        self.bulkhead.capacity()
    }

    /// Permits held now.
    pub fn in_flight(&self) -> usize {
        self.bulkhead.in_flight()
    }

    /// Callers queued for a permit now.
    pub fn waiting(&self) -> usize {
        self.bulkhead.waiting()
    }

    /// A point-in-time view for health endpoints and registries.
    pub fn snapshot(&self) -> AdaptiveBulkheadSnapshot {
        let control = self.control();
        let (algorithm, min_limit, max_limit) = control.algorithm_and_bounds();
        AdaptiveBulkheadSnapshot {
            name: self.name().clone(),
            algorithm,
            limit: self.limit(),
            min_limit,
            max_limit,
            in_flight: self.in_flight(),
            waiting: self.waiting(),
            latency: control.service_time(),
        }
    }

    /// Whether `self` and `other` are clones of the same adaptive bulkhead.
    pub fn same_as(&self, other: &AdaptiveBulkhead) -> bool {
        self.bulkhead.same_as(&other.bulkhead)
    }
}

impl fmt::Debug for AdaptiveBulkhead {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let control = self.control();
        f.debug_struct("AdaptiveBulkhead")
            .field("name", &self.name().as_str())
            .field("algorithm", &control.algorithm_and_bounds().0)
            .field("limit", &self.limit())
            .field("in_flight", &self.in_flight())
            .field("waiting", &self.waiting())
            .finish_non_exhaustive()
    }
}

/// The bounds every algorithm's builder checks: `1 <= min <= initial <= max <=`
/// [`MAX_PERMITS`](crate::bulkhead::MAX_PERMITS).
pub(crate) fn bounds(initial: usize, min: usize, max: usize) -> Result<(), ConfigError> {
    let p = Primitive::Bulkhead;
    check::nonzero(p, "min_limit", min)?;
    check::ordered(p, "min_limit", min, "max_limit", max)?;
    at_most(p, "max_limit", max)?;
    if (min..=max).contains(&initial) {
        Ok(())
    } else {
        Err(ConfigError::new(
            p,
            "initial_limit",
            format!("({initial}) must be within `min_limit` ({min}) and `max_limit` ({max})"),
        ))
    }
}
