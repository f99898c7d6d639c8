//! Circuit breaker: stop calling a dependency that is failing, and probe it back to health
//! without a thundering herd.
//!
//! ```
//! use std::time::Duration;
//! use resilience_core::circuit_breaker::{CircuitBreaker, State};
//! use resilience_core::ErrorKind;
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
//! let breaker = CircuitBreaker::builder()
//!     .name("payments")
//!     .count_window(10)
//!     .minimum_calls(4)
//!     .failure_rate_threshold(0.5)
//!     .open_duration(Duration::from_secs(5))
//!     .half_open_calls(1)
//!     .build()
//!     .unwrap();
//!
//! // Four failures out of four calls: the breaker opens.
//! for _ in 0..4 {
//!     let result = breaker.call(async { Err::<(), _>(std::io::Error::other("down")) }).await;
//!     assert_eq!(result.unwrap_err().kind(), ErrorKind::Inner);
//! }
//! assert_eq!(breaker.state(), State::Open);
//!
//! // Open: calls are refused at once, with a hint of when to come back.
//! let refused = breaker.call(async { Ok::<_, std::io::Error>(1) }).await.unwrap_err();
//! assert_eq!(refused.kind(), ErrorKind::CircuitOpen);
//! assert!(refused.is_rejection());
//! assert_eq!(refused.retry_after(), Some(Duration::from_secs(5)));
//!
//! // After the open duration one probe goes through; its success closes the breaker.
//! tokio::time::advance(Duration::from_secs(5)).await;
//! let permit = breaker.try_acquire().unwrap();
//! assert_eq!(breaker.state(), State::HalfOpen);
//! assert!(breaker.try_acquire().is_err()); // only one probe
//! permit.record_success();
//! assert_eq!(breaker.state(), State::Closed);
//! # }
//! ```
//!
//! # Why
//!
//! A dependency that is down costs every caller a timeout, holds their threads and
//! connections while it does, and keeps being hammered while it tries to recover. A
//! breaker measures the outcomes of recent calls and, once too many fail (or are too
//! slow), refuses calls for a while: the caller gets [`ErrorKind::CircuitOpen`](crate::ErrorKind::CircuitOpen) in
//! nanoseconds, with a [`retry_after`](crate::Error::retry_after) hint. After
//! [`open_duration`](CircuitBreakerBuilder::open_duration) it lets exactly
//! [`half_open_calls`](CircuitBreakerBuilder::half_open_calls) probes through — never more, whatever
//! the concurrency — and closes when they all succeed or re-opens at the first failure.
//!
//! # What counts
//!
//! Outcomes are judged by a [`Classify`] classifier: `Success` and
//! failures (`Transient`, `Permanent`) count; `Benign` outcomes (the caller's fault, a
//! 404) do not; errors that are rejections by another primitive (a full bulkhead further
//! in) do not, because the dependency was never called.
//!
//! A call that ends without a result counts by why it ended (see [`Permit`]):
//!
//! - it **panicked**: a failure;
//! - it was **cut off by the deadline** ([`deadline::enforce`](crate::deadline::enforce),
//!   [`Deadline::run`](crate::Deadline::run), a deadline layer): a failure, counted with
//!   outcome `timeout`, so a dependency that hangs opens the breaker;
//! - the **caller gave up** for any other reason (a client that hung up, a `select!`
//!   that took another branch): cancelled, not counted — giving up says nothing about
//!   the dependency, and counting it would let impatient callers open the breaker. A
//!   dropped half-open probe gives its slot back at once.
//!
//! Half-open admits at most [`half_open_calls`](CircuitBreakerBuilder::half_open_calls) probes *in
//! flight*, across episodes: a probe still running when its episode ends (a sibling
//! failed and re-opened the breaker, or it outlasted `open_duration`) keeps its slot until
//! it ends, so the next episode admits only the slots left.
//!
//! # Where the logic lives
//!
//! [`Permit`]s record outcomes; [`Guarded`] is the one future that does a breaker's work
//! around an operation — asks for a permit, classifies the outcome once, records it, and
//! carries the class up ([`Judged`](crate::outcome::Judged)) so a retry loop around it does
//! not classify again. [`call`](CircuitBreaker::call) is that future; so is the tower
//! layer's response future, and the breaker step of `#[resilient]`.
//!
//! # Cost
//!
//! In the closed state, admitting a call is one atomic load; recording a success while a
//! count window holds only successes is one more atomic load and no write (the window is
//! unchanged whichever success it replaces); otherwise recording claims a slot with one
//! atomic increment, and the totals change only when the evicted outcome differs. No lock,
//! no allocation, and no clock read unless slow calls are measured or the window is
//! time-based. Transitions take a lock, which
//! admission and recording never wait on.
//!
//! # Clone
//!
//! A `CircuitBreaker` is a handle to shared state in an `Arc`: clones are the same breaker
//! (same state, window and metrics).

mod config;
mod core;
mod guard;
#[cfg(all(test, loom))]
mod loom;
mod permit;
mod state;
mod telemetry;
pub(crate) mod window;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

pub use config::{CircuitBreakerBuilder, SlidingWindow};
pub use guard::{Guarded, Settle};
pub use permit::{OwnedPermit, Permit};
pub use state::State;
pub use telemetry::StateChange;

use self::core::Shared;
use crate::classify::TransientErrors;
use crate::outcome;
use crate::{BoxError, Classify, Error, Name};

/// A circuit breaker; see the [module documentation](self).
#[derive(Clone, Debug)]
pub struct CircuitBreaker {
    shared: Arc<Shared>,
}

impl CircuitBreaker {
    /// A builder with the defaults listed on [`CircuitBreakerBuilder`].
    pub fn builder() -> CircuitBreakerBuilder {
        CircuitBreakerBuilder::default()
    }

    pub(crate) fn from_config(config: config::Config) -> Self {
        Self {
            shared: Arc::new(Shared::new(config)),
        }
    }

    /// The instance name.
    pub fn name(&self) -> &Name {
        self.shared.telemetry.name()
    }

    /// Applies `builder`'s options to this breaker in place, for every clone at once: the
    /// state, the open period under way and the probes in flight are kept, and so are the
    /// window's counts unless the window's shape (kind, size, duration, buckets) changed,
    /// when the new window starts empty. The breaker keeps its name and its
    /// [`on_state_change`](CircuitBreakerBuilder::on_state_change) hook; those of
    /// `builder` are ignored.
    ///
    /// ```
    /// use resilience_core::CircuitBreaker;
    ///
    /// let breaker = CircuitBreaker::builder().consecutive_failures(5).build().unwrap();
    /// breaker
    ///     .reconfigure(CircuitBreaker::builder().consecutive_failures(1))
    ///     .unwrap();
    /// let permit = breaker.try_acquire().unwrap();
    /// permit.record_failure();
    /// assert!(breaker.try_acquire().is_err(), "one failure trips it now");
    /// ```
    ///
    /// # Errors
    ///
    /// The options are invalid, as [`build`](CircuitBreakerBuilder::build) would say; the
    /// breaker is unchanged then.
    pub fn reconfigure(&self, builder: CircuitBreakerBuilder) -> Result<(), crate::ConfigError> {
        let config = builder.validate()?;
        self.shared.reconfigure(config);
        Ok(())
    }

    /// Asks to run one call. `Ok` holds a [`Permit`] to report the outcome on;
    /// `Err` is an [`ErrorKind::CircuitOpen`](crate::ErrorKind::CircuitOpen) rejection
    /// naming this breaker, with `retry_after` set to the time left before half-open
    /// when the breaker is open (none when forced open or out of half-open probes).
    ///
    /// # Errors
    ///
    /// The breaker refused the call.
    #[inline]
    pub fn try_acquire(&self) -> Result<Permit<'_>, Error> {
        let ticket = self.shared.acquire()?;
        Ok(Permit::new(&self.shared, ticket))
    }

    /// [`try_acquire`](CircuitBreaker::try_acquire) for a permit that can move into a
    /// `'static` future (it holds a handle to the breaker).
    ///
    /// # Errors
    ///
    /// The breaker refused the call.
    #[inline]
    pub fn try_acquire_owned(&self) -> Result<OwnedPermit, Error> {
        let ticket = self.shared.acquire()?;
        Ok(OwnedPermit::new(Arc::clone(&self.shared), ticket))
    }

    /// Runs `operation` if the breaker admits it and records its outcome with the default
    /// classifier ([`TransientErrors`]). The operation's own error comes back as kind
    /// [`Inner`](crate::ErrorKind::Inner) (an [`Error`] passes through unchanged).
    ///
    /// The breaker is asked when the returned future is first polled ([`guard`](Self::guard)
    /// asks at once).
    ///
    /// # Errors
    ///
    /// `CircuitOpen` if refused, else the operation's error.
    #[inline]
    pub fn call<T, E, F>(&self, operation: F) -> impl Future<Output = Result<T, Error>>
    where
        F: Future<Output = Result<T, E>>,
        E: Into<BoxError> + 'static,
    {
        self.call_with(&TransientErrors, operation)
    }

    /// [`call`](CircuitBreaker::call) with a classifier of your own.
    ///
    /// # Errors
    ///
    /// `CircuitOpen` if refused, else the operation's error.
    #[inline]
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
        let guarded = outcome::Lazy::new(move || self.guard(classifier, outcome::lift(operation)));
        outcome::Map::new(guarded, |judged: outcome::Judged<T, E>| {
            outcome::into_result(judged.outcome)
        })
    }

    /// The breaker's work around `operation`, a future producing an
    /// [`Outcome`](crate::outcome::Outcome) (see [`outcome::lift`]): asks for a permit now,
    /// and the returned [`Guarded`] future fails with the rejection or runs the operation,
    /// classifies its outcome with `classifier` and records it. What [`call`](Self::call),
    /// the tower layer and `#[resilient]` are made of.
    #[inline]
    pub fn guard<F, C>(&self, classifier: C, operation: F) -> Guarded<F, C, Permit<'_>> {
        match self.try_acquire() {
            Ok(permit) => Guarded::admitted(permit, classifier, operation),
            Err(error) => Guarded::refused(error, classifier),
        }
    }

    /// The current state. Open turns half-open on the first call after the open duration,
    /// so an idle breaker reports `Open` until someone asks to call.
    pub fn state(&self) -> State {
        self.shared.word().state()
    }

    /// Opens the breaker until [`reset`](CircuitBreaker::reset): every call is refused.
    pub fn force_open(&self) {
        self.shared.force(State::ForcedOpen);
    }

    /// Admits every call and records nothing until [`reset`](CircuitBreaker::reset).
    pub fn disable(&self) {
        self.shared.force(State::Disabled);
    }

    /// Closes the breaker with an empty window, whatever its state; permits issued before
    /// no longer count.
    pub fn reset(&self) {
        self.shared.force(State::Closed);
    }

    /// The breaker's current figures, for a health endpoint.
    pub fn snapshot(&self) -> CircuitBreakerSnapshot {
        let totals = self.shared.totals();
        let rate = |n: u32| (totals.calls > 0).then(|| f64::from(n) / f64::from(totals.calls));
        CircuitBreakerSnapshot {
            name: self.name().clone(),
            state: self.state(),
            failure_rate: rate(totals.failures),
            slow_call_rate: rate(totals.slow),
            calls: totals.calls,
            failed_calls: totals.failures,
            slow_calls: totals.slow,
            time_in_state: self.shared.time_in_state(),
            retry_after: self.shared.open_remaining(),
        }
    }
}

/// A breaker's figures at one moment; see [`CircuitBreaker::snapshot`].
///
/// With feature `serde` it serializes with the field names below, the state as its label
/// value (`"open"`) and durations as seconds (a number).
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct CircuitBreakerSnapshot {
    /// The instance name.
    pub name: Name,
    /// The state.
    pub state: State,
    /// Failed calls / calls in the window; `None` while the window is empty.
    pub failure_rate: Option<f64>,
    /// Slow calls / calls in the window; `None` while the window is empty.
    pub slow_call_rate: Option<f64>,
    /// Calls recorded in the window (the window is cleared whenever the breaker closes).
    pub calls: u32,
    /// Failed calls in the window.
    pub failed_calls: u32,
    /// Slow calls in the window (zero unless slow calls are measured).
    pub slow_calls: u32,
    /// How long the breaker has been in this state.
    #[cfg_attr(feature = "serde", serde(serialize_with = "crate::ser::duration_secs"))]
    pub time_in_state: Duration,
    /// While open: the time left before probes are admitted.
    #[cfg_attr(
        feature = "serde",
        serde(serialize_with = "crate::ser::option_duration_secs")
    )]
    pub retry_after: Option<Duration>,
}
