//! Hedging: when an attempt is slow, send another and take the first success
//! ([`Hedge`], the [`Hedging`] future).
//!
//! ```
//! use std::sync::atomic::{AtomicU32, Ordering};
//! use std::time::Duration;
//!
//! use resilience_core::hedge::Hedge;
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
//! let hedge = Hedge::builder()
//!     .name("search")
//!     .delay(Duration::from_millis(50)) // or `.percentile(0.95)`: the p95 of recent attempts
//!     .max_hedges(1)
//!     .build()
//!     .expect("valid hedging policy");
//!
//! // A replica that is stuck on the first request, fast on the next.
//! let calls = AtomicU32::new(0);
//! let started = tokio::time::Instant::now();
//! let hits = hedge
//!     .run(|| async {
//!         let slow = calls.fetch_add(1, Ordering::Relaxed) == 0;
//!         let took = if slow { Duration::from_secs(2) } else { Duration::from_millis(10) };
//!         tokio::time::sleep(took).await;
//!         Ok::<_, std::io::Error>(42)
//!     })
//!     .await
//!     .unwrap();
//! assert_eq!(hits, 42);
//! // Answered by the hedge, sent at 50 ms: 60 ms, not 2 s. The slow attempt was dropped.
//! assert_eq!(started.elapsed(), Duration::from_millis(60));
//! assert_eq!(hedge.snapshot().won, 1);
//! # }
//! ```
//!
//! # Why hedge
//!
//! A call's latency is its slowest dependency's tail: one replica in a garbage collection,
//! one packet retransmitted, and a call that usually takes 10 ms takes a second. Waiting
//! for it is the only thing a retry cannot fix — a retry starts after a *failure*, and the
//! slow attempt has not failed. A hedge starts another attempt while the first is still
//! running, after a delay that only the slowest few percent of attempts outlast (the
//! approach of Dean and Barroso's "The Tail at Scale"), and keeps whichever answers first.
//! At the 95th percentile, hedging costs about 5% more calls and cuts the tail to little
//! more than twice the median.
//!
//! # What happens in a call
//!
//! 1. The first attempt starts. If it answers on its first poll (a cache hit), that is
//!    the whole call: no timer, no allocation, no clock read (but the budget's, on one
//!    deposit in sixteen).
//! 2. Otherwise a timer is armed for the **delay**: fixed ([`delay`](HedgeBuilder::delay)),
//!    or the [`percentile`](HedgeBuilder::percentile) of the attempt latencies seen over a
//!    sliding [`window`](HedgeBuilder::window) (a lock-free histogram; until it holds
//!    [`min_samples`](HedgeBuilder::min_samples), no hedge is sent). When it fires with
//!    the call still undecided, a **hedge** is sent: another attempt, the same request,
//!    after the inner service is ready. Then another after the same delay, up to
//!    [`max_hedges`](HedgeBuilder::max_hedges).
//! 3. The first attempt to answer with anything but a transient failure decides the call:
//!    a success, but also a permanent failure or a benign one (a `404` is an answer; a
//!    second attempt would get the same). Every other attempt is **dropped at once**, so
//!    whatever it held (a bulkhead permit, a half-open breaker probe, a connection) is
//!    released before the answer is returned.
//! 4. A transient failure is set aside while other attempts run; when none is left
//!    running, the call ends with the last one. Hedging is not a retry: a failure does not
//!    send a hedge early (stack a [`RetryPolicy`](crate::retry::RetryPolicy) for that).
//!
//! # Bounds
//!
//! - **Budget.** Each hedge withdraws one retry from a [`RetryBudget`], as a retry does;
//!   an empty budget stops *further* hedges (counted in `resilience_hedges_refused_total`),
//!   never one already sent. Give the hedge the budget of the retry policy around it
//!   ([`budget`](HedgeBuilder::budget)) so that retries and hedges together stay within
//!   one share of the traffic; by default a hedge has its own, with the retry budget's
//!   defaults (20% of calls + 10/s over 10 s).
//! - **Deadline.** No hedge is sent at or after the ambient deadline
//!   ([`deadline::scope`](crate::deadline::scope)), nor is one waited for: when the
//!   deadline passes, every attempt is dropped and the call fails with
//!   `DeadlineExceeded`. A deadline already passed fails the call without an attempt.
//! - **Repeatability.** Hedging sends the same request more than once, at the same time:
//!   only use it for requests that may be repeated. The tower layers replay only
//!   requests that may be (see `resilience_tower::hedge`).
//!
//! # Telemetry
//!
//! `resilience_hedges_sent_total{name}`, `resilience_hedges_won_total{name}` (calls
//! answered by a hedge) and `resilience_hedges_refused_total{name}`; a DEBUG event
//! (target `resilience`) per hedge sent, an INFO event per hedge the budget refused.
//! [`Hedge::snapshot`] has the same counts and the current delay.

mod config;
mod future;
mod latency;

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use arc_swap::ArcSwap;
use metrics::Counter;
use tokio::time::Instant;

pub use config::{HedgeBuilder, HedgeDelay};
pub use future::Hedging;

use self::latency::Latencies;
use crate::classify::TransientErrors;
use crate::outcome::{self, Judged, Map};
use crate::retry::RetryBudget;
use crate::telemetry::{label, metric};
use crate::{BoxError, Classify, Error, Name};

/// A hedging policy: when to send another attempt, how many, within what budget; see the
/// [module docs](self).
///
/// # Defaults
///
/// | option | default | anchor |
/// |---|---|---|
/// | delay | the 95th percentile of recent attempts | "The Tail at Scale" (Dean, Barroso) |
/// | `window` | 10 s, in 10 slots | the retry budget's window |
/// | `min_samples` | 100 | a percentile of fewer samples is noise |
/// | `min_delay` | 1 ms | below it, a hedge doubles load for little gain |
/// | `max_hedges` | 1 | gRPC and Polly hedge once by default |
/// | budget | own, 20% + 10/s over 10 s | the retry budget's defaults (Finagle) |
///
/// # Clone
///
/// Clones share everything (an `Arc`): the latency window, the budget, the counters.
#[derive(Clone)]
pub struct Hedge {
    shared: Arc<Shared>,
}

struct Shared {
    name: Name,
    /// The options, swapped whole by [`Hedge::reconfigure`]; a call reads them with one
    /// lock-free load per decision.
    tuned: ArcSwap<Tuned>,
    /// Serialises [`Hedge::reconfigure`].
    writer: Mutex<()>,
    meters: Meters,
}

/// The options in force.
pub(crate) struct Tuned {
    delay: Delay,
    max_hedges: u32,
    budget: Option<RetryBudget>,
    /// Whether `budget` is the policy's own (kept across a reconfiguration that keeps it).
    own_budget: bool,
    deposit: bool,
}

/// The delay, resolved.
enum Delay {
    Fixed(Duration),
    Percentile {
        quantile: f64,
        min_samples: u32,
        min_delay: Duration,
        window: Duration,
        /// What `latencies` caches for these settings is tagged with.
        generation: u32,
        latencies: Arc<Latencies>,
    },
}

/// Metric handles (resolved once) and the counts [`Hedge::snapshot`] reads.
struct Meters {
    sent: Counter,
    won: Counter,
    refused: Counter,
    sent_count: AtomicU64,
    won_count: AtomicU64,
    refused_count: AtomicU64,
}

impl Meters {
    fn new(name: &Name) -> Self {
        let counter = |metric: &'static str| metrics::counter!(metric, label::NAME => name.to_shared_string());
        Self {
            sent: counter(metric::HEDGES_SENT_TOTAL),
            won: counter(metric::HEDGES_WON_TOTAL),
            refused: counter(metric::HEDGES_REFUSED_TOTAL),
            sent_count: AtomicU64::new(0),
            won_count: AtomicU64::new(0),
            refused_count: AtomicU64::new(0),
        }
    }
}

/// A hedging policy's figures, for a health endpoint; from [`Hedge::snapshot`].
///
/// With feature `serde` it serializes with the field names below, `delay` in seconds.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct HedgeSnapshot {
    /// The instance name.
    pub name: String,
    /// The delay a call starting now would hedge after; `None` while a percentile has too
    /// few samples.
    #[cfg_attr(
        feature = "serde",
        serde(serialize_with = "crate::ser::option_duration_secs")
    )]
    pub delay: Option<Duration>,
    /// Hedges per call, at most.
    pub max_hedges: u32,
    /// Attempt latencies in the window now (0 with a fixed delay, which records none).
    pub samples: u64,
    /// Hedges sent since the policy was built.
    pub sent: u64,
    /// Calls answered by a hedge.
    pub won: u64,
    /// Hedges the budget refused.
    pub refused: u64,
}

impl Hedge {
    /// A builder with the defaults in the table above.
    pub fn builder() -> HedgeBuilder {
        HedgeBuilder::default()
    }

    /// The instance name.
    pub fn name(&self) -> &Name {
        &self.shared.name
    }

    /// Hedges per call, at most.
    pub fn max_hedges(&self) -> u32 {
        self.shared.tuned.load().max_hedges
    }

    /// The budget hedges withdraw from, if any: a clone sharing its balance (a
    /// [`reconfigure`](Self::reconfigure) may swap the budget, so it is not lent out).
    pub fn budget(&self) -> Option<RetryBudget> {
        self.shared.tuned.load().budget.clone()
    }

    /// Whether each call deposits in the budget.
    pub fn deposits(&self) -> bool {
        self.shared.tuned.load().deposit
    }

    /// How the delay is chosen.
    pub fn delay_kind(&self) -> HedgeDelay {
        match &self.shared.tuned.load().delay {
            Delay::Fixed(delay) => HedgeDelay::Fixed(*delay),
            Delay::Percentile { quantile, .. } => HedgeDelay::Percentile(*quantile),
        }
    }

    /// Applies `builder`'s options to this policy in place, for every clone at once;
    /// it keeps its name and counts. Calls under way keep the hedges they sent (a lower
    /// `max_hedges` stops *further* hedges); each decision from now on follows the new
    /// options. The latency window keeps its samples while it stays a percentile over a
    /// window of the same length; the policy's own budget keeps its balance while the
    /// builder asks for its own budget; [`budget`](HedgeBuilder::budget) swaps in the
    /// given one and [`no_budget`](HedgeBuilder::no_budget) drops it.
    ///
    /// ```
    /// use std::time::Duration;
    /// use resilience_core::hedge::{Hedge, HedgeDelay};
    ///
    /// let hedge = Hedge::builder().delay(Duration::from_millis(50)).build().unwrap();
    /// hedge
    ///     .reconfigure(Hedge::builder().delay(Duration::from_millis(20)).max_hedges(2))
    ///     .unwrap();
    /// assert_eq!(hedge.delay_kind(), HedgeDelay::Fixed(Duration::from_millis(20)));
    /// assert_eq!(hedge.max_hedges(), 2);
    /// ```
    ///
    /// # Errors
    ///
    /// The options are invalid, as [`build`](HedgeBuilder::build) would say; the policy
    /// is unchanged then.
    pub fn reconfigure(&self, builder: HedgeBuilder) -> Result<(), crate::ConfigError> {
        let _one_writer = self
            .shared
            .writer
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let next = Arc::new(builder.tuned(Some(&self.shared.tuned.load()))?);
        // A percentile cached under the old settings is not served under the new ones:
        // `tuned` gave them a generation of their own.
        self.shared.tuned.store(next);
        Ok(())
    }

    /// The delay a call starting now would hedge after; `None` while a percentile has
    /// too few samples (no hedge is sent then).
    pub fn delay(&self) -> Option<Duration> {
        self.delay_at(Instant::now())
    }

    /// The policy's figures.
    pub fn snapshot(&self) -> HedgeSnapshot {
        let m = &self.shared.meters;
        let tuned = self.shared.tuned.load();
        HedgeSnapshot {
            name: self.shared.name.as_str().to_owned(),
            delay: self.delay(),
            max_hedges: tuned.max_hedges,
            samples: match &tuned.delay {
                Delay::Fixed(_) => 0,
                Delay::Percentile { latencies, .. } => latencies.samples(Instant::now()),
            },
            sent: m.sent_count.load(Relaxed),
            won: m.won_count.load(Relaxed),
            refused: m.refused_count.load(Relaxed),
        }
    }

    /// Whether `other` is a clone of this policy (shares its window and counts).
    pub fn same_as(&self, other: &Hedge) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }

    /// Runs `op`, hedging it while it is slow; outcomes classified with
    /// [`TransientErrors`] (every `Err` transient); failures come out as [`Error`]
    /// (the operation's own through [`Error::wrap`]).
    ///
    /// # Errors
    ///
    /// The deciding attempt's error (see the [module docs](self#what-happens-in-a-call)),
    /// or `DeadlineExceeded`.
    #[inline]
    pub fn run<T, E, F, Fut>(&self, op: F) -> impl Future<Output = Result<T, Error>>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
        E: Into<BoxError> + 'static,
    {
        self.run_with(&TransientErrors, op)
    }

    /// [`run`](Self::run) with a classifier of your own: only `Transient` outcomes are
    /// waited past.
    ///
    /// # Errors
    ///
    /// As [`run`](Self::run).
    #[inline]
    pub fn run_with<T, E, F, Fut, C>(
        &self,
        classifier: &C,
        mut op: F,
    ) -> impl Future<Output = Result<T, Error>>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
        E: Into<BoxError> + 'static,
        C: Classify<T, E> + ?Sized,
    {
        let attempts = move || outcome::judge(classifier, outcome::lift(op()));
        Map::new(
            Hedging::new(self, attempts, |next| next()),
            |judged: Judged<T, E>| outcome::into_result(judged.outcome),
        )
    }

    /// The delay of a hedge due from `now`.
    fn delay_at(&self, now: Instant) -> Option<Duration> {
        match &self.shared.tuned.load().delay {
            Delay::Fixed(delay) => Some(*delay),
            Delay::Percentile {
                quantile,
                min_samples,
                min_delay,
                latencies,
                generation,
                ..
            } => latencies
                .percentile(*quantile, *min_samples, now, *generation)
                .map(|p| p.max(*min_delay)),
        }
    }

    /// Starts a call: deposits in the budget (if this policy deposits).
    #[inline]
    fn start(&self) {
        let tuned = self.shared.tuned.load();
        if let (Some(budget), true) = (&tuned.budget, tuned.deposit) {
            budget.deposit();
        }
    }

    /// Records an attempt that took `latency` (percentile delays only).
    #[inline]
    fn observe(&self, started: Option<Instant>) {
        if let Delay::Percentile { latencies, .. } = &self.shared.tuned.load().delay {
            match started {
                None => latencies.record_instant(),
                Some(started) => {
                    let now = Instant::now();
                    latencies.record(now.saturating_duration_since(started), now);
                }
            }
        }
    }

    /// Whether the latencies are recorded (a percentile delay).
    fn observes(&self) -> bool {
        matches!(self.shared.tuned.load().delay, Delay::Percentile { .. })
    }

    /// Takes a hedge from the budget; `false` (counted, said) when it is empty.
    fn withdraw(&self, sent: u32) -> bool {
        let tuned = self.shared.tuned.load();
        let Some(budget) = &tuned.budget else {
            return true;
        };
        if budget.try_withdraw() {
            return true;
        }
        let m = &self.shared.meters;
        m.refused.increment(1);
        m.refused_count.fetch_add(1, Relaxed);
        tracing::event!(
            target: "resilience",
            tracing::Level::INFO,
            hedge.name = self.shared.name.as_str(),
            hedges_sent = sent,
            "hedge: not hedging, the budget is exhausted",
        );
        false
    }

    fn sent(&self, sent: u32, elapsed: Option<Duration>) {
        let m = &self.shared.meters;
        m.sent.increment(1);
        m.sent_count.fetch_add(1, Relaxed);
        tracing::event!(
            target: "resilience",
            tracing::Level::DEBUG,
            hedge.name = self.shared.name.as_str(),
            hedge = sent,
            elapsed_seconds = elapsed.map(|d| d.as_secs_f64()),
            "hedge: attempt still pending, sending a hedge",
        );
    }

    fn won(&self) {
        let m = &self.shared.meters;
        m.won.increment(1);
        m.won_count.fetch_add(1, Relaxed);
    }
}

impl fmt::Debug for Hedge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tuned = self.shared.tuned.load();
        f.debug_struct("Hedge")
            .field("name", &self.shared.name)
            .field("delay", &self.delay_kind())
            .field("max_hedges", &tuned.max_hedges)
            .field("budget", &tuned.budget)
            .field("deposit", &tuned.deposit)
            .finish()
    }
}
