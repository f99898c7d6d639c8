//! Bulkheads: a cap on concurrent calls, with fast rejection and an optional, bounded,
//! deadline-aware wait.
//!
//! ```
//! use std::time::Duration;
//!
//! use resilience_core::bulkhead::Bulkhead;
//! use resilience_core::ErrorKind;
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let bulkhead = Bulkhead::builder()
//!     .name("db")
//!     .max_concurrent(2)
//!     .build()
//!     .expect("valid config");
//!
//! let first = bulkhead.try_acquire().unwrap();
//! let second = bulkhead.acquire().await.unwrap();
//! assert_eq!(bulkhead.in_flight(), 2);
//!
//! // Full: the third caller is refused at once, with a hint for when to come back.
//! let err = bulkhead.try_acquire().unwrap_err();
//! assert_eq!(err.kind(), ErrorKind::BulkheadFull);
//! assert!(err.is_rejection());
//! assert_eq!(err.instance(), Some("db"));
//! assert_eq!(err.retry_after(), Some(Duration::from_secs(1)));
//!
//! // Permits are RAII guards: dropping one frees its slot.
//! drop(first);
//! let answer = bulkhead.call(async { 42 }).await.unwrap();
//! assert_eq!(answer, 42);
//! drop(second);
//! assert_eq!(bulkhead.in_flight(), 0);
//! # }
//! ```
//!
//! # Why shed instead of queueing
//!
//! One slow dependency must not take every worker with it. Without a cap, each request
//! that waits on it holds a task, a connection and memory, until the whole service is
//! waiting on the one dependency. tower's `ConcurrencyLimit` caps concurrency but queues
//! without bound through `poll_ready` — and axum's router is always ready, so the queue
//! moves into the router instead (tower issue #793 asks for a rejecting limit). A bulkhead
//! refuses the excess at once with `BulkheadFull`, a rejection with a `retry_after` hint,
//! which an HTTP layer answers as 503 (or 429) + `Retry-After`: load is shed where it is
//! cheapest, before any work is done.
//!
//! A small wait queue smooths bursts: up to [`max_waiting`](BulkheadBuilder::max_waiting)
//! callers of [`acquire`](Bulkhead::acquire) wait, in FIFO order, for at most
//! [`max_wait`](BulkheadBuilder::max_wait). Both are bounded, so the queue cannot grow into
//! the problem it was meant to absorb.
//!
//! # Outcomes
//!
//! | situation | outcome |
//! |---|---|
//! | a slot is free and nobody is queued | a [`Permit`], at once |
//! | full, no queue (`max_waiting` 0) or [`try_acquire`](Bulkhead::try_acquire) | `BulkheadFull` at once (`reason=at_capacity`) |
//! | full and the queue is full | `BulkheadFull` at once (`reason=queue_full`) |
//! | queued, `max_wait` passed first | `BulkheadFull` (`reason=max_wait`, `waited=…`) |
//! | queued, the ambient [deadline](crate::deadline) passed first (or had passed) | `DeadlineExceeded`, a rejection (`waited=…`) |
//! | [adaptive](crate::adaptive), would queue, and the deadline leaves less than the expected wait | `DeadlineExceeded` at once (`reason=expected_wait`) |
//!
//! A wait ends at whichever comes first, `max_wait` or the deadline, and the error names
//! the one that ended it: `BulkheadFull` says "try again later" (transient), while
//! `DeadlineExceeded` says "no later attempt fits" (permanent), so a retry layer around
//! the bulkhead does the right thing with each. The deadline is read only when a caller
//! would have to wait: admitting to a free slot is the deadline layer's decision, and
//! leaving the fast path free of a task-local lookup keeps it at two compare-and-swaps.
//!
//! Every `BulkheadFull` carries the configured [`retry_after`](BulkheadBuilder::retry_after)
//! hint and, like every error the bulkhead produces, its origin (`bulkhead=<name>`).
//!
//! # Where the logic lives
//!
//! [`Guarded`] is the one future that runs work holding a permit: admitted at once,
//! queued, or refused, decided when it is made ([`admit`](Bulkhead::admit)).
//! [`call`](Bulkhead::call) and [`guard`](Bulkhead::guard) make it; the tower layer makes
//! it from an [`Admission`] (calling its inner service in place when admitted, keeping
//! the request while queued); `#[resilient]` nests it.
//!
//! # Cancellation
//!
//! Dropping a [`Permit`] releases its slot — when the call returns, fails, panics, or its
//! future is dropped mid-call. Dropping an [`Acquire`] that is waiting removes the caller
//! from the queue; a slot that was being handed to it passes to the next waiter. No
//! cancellation point leaks a slot or a place in the queue.
//!
//! # Cost
//!
//! The uncontended path takes and gives back a slot with one compare-and-swap each on a
//! single atomic word: no lock, no allocation, no clock read. The queue is a tokio
//! semaphore used only for hand-offs; it is touched when someone waits. A caller that
//! waits is the only one that allocates: its wait and, in a [`Guarded`] call, the work it
//! keeps until admitted, are boxed, so that an admitted call's future is no larger than
//! its work's. The protocol is described in the source of `state.rs`.
//!
//! # Telemetry
//!
//! Handles are resolved once, at [`build`](BulkheadBuilder::build), labelled with the
//! instance name: `resilience_bulkhead_in_flight` (gauge, permits held),
//! `resilience_bulkhead_rejected_total` (every refusal: full, queue full, `max_wait`,
//! deadline) and `resilience_bulkhead_wait_seconds` (only callers that waited, admitted
//! or not; the fast path reads no clock). A refusal also emits a `DEBUG` event.

mod acquire;
mod config;
mod guard;
#[cfg(all(test, loom))]
mod loom;
mod permit;
mod state;

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::time::Instant;

pub use acquire::Acquire;
pub use config::{BulkheadBuilder, MAX_PERMITS};
pub(crate) use guard::sealed::Sealed as ObserverSealed;
pub use guard::{Admission, Guarded, Observer};
pub use permit::Permit;

use self::state::Entry;
pub(crate) use self::state::Slots;
use crate::adaptive::Control;
use crate::durations::nanos;
use crate::outcome::{self, Outcome};
use crate::telemetry::{label, metric};
use crate::{Deadline, Error, ErrorKind, Name, Primitive};

pub(crate) use config::at_most;

/// A concurrency cap with fast rejection and an optional bounded wait queue; see the
/// [module docs](self).
///
/// # Clone
///
/// Cloning is one reference-count increment. Clones share everything: the slots, the
/// queue, the configuration and the metric handles, so every clone (in every layer and
/// task) enforces the same limit. Build one bulkhead per dependency and clone it.
#[derive(Clone)]
pub struct Bulkhead {
    shared: Arc<Shared>,
}

struct Shared {
    slots: Slots,
    name: Name,
    /// `max_wait` and `retry_after` in nanoseconds, atomics so that
    /// [`reconfigure`](Bulkhead::reconfigure) can move them (`max_waiting` lives in `slots`).
    max_wait: AtomicU64,
    retry_after: AtomicU64,
    telemetry: Telemetry,
    /// What moves the limit of an [adaptive bulkhead](crate::adaptive); `None` for a
    /// fixed one.
    control: Option<Control>,
}

struct Telemetry {
    in_flight: metrics::Gauge,
    rejected: metrics::Counter,
    wait: metrics::Histogram,
}

/// A point-in-time view of a [`Bulkhead`], for health endpoints and registries.
///
/// With feature `serde` it serializes with the field names below.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct BulkheadSnapshot {
    /// The instance name.
    pub name: Name,
    /// How many calls may hold a permit at once (`max_concurrent`, or an adaptive
    /// bulkhead's current limit).
    pub capacity: usize,
    /// Permits held now (a slot being handed to a waiter counts as held).
    pub in_flight: usize,
    /// Callers queued for a permit now.
    pub waiting: usize,
    /// `max_waiting`: how many callers may queue.
    pub max_waiting: usize,
}

impl Bulkhead {
    /// A builder with the documented defaults (25 concurrent calls, no queue, as
    /// resilience4j); see [`BulkheadBuilder`].
    pub fn builder() -> BulkheadBuilder {
        BulkheadBuilder::default()
    }

    fn from_builder(b: BulkheadBuilder) -> Self {
        Self::with_control(b, None)
    }

    /// A bulkhead whose limit `control` moves (starting at `b.max_concurrent`).
    pub(crate) fn with_control(b: BulkheadBuilder, control: Option<Control>) -> Self {
        let labels = [(label::NAME, b.name.to_shared_string())];
        let telemetry = Telemetry {
            in_flight: metrics::gauge!(metric::BULKHEAD_IN_FLIGHT, &labels),
            rejected: metrics::counter!(metric::BULKHEAD_REJECTED_TOTAL, &labels),
            wait: metrics::histogram!(metric::BULKHEAD_WAIT_SECONDS, &labels),
        };
        Self {
            shared: Arc::new(Shared {
                slots: Slots::new(b.max_concurrent, b.max_waiting),
                name: b.name,
                max_wait: AtomicU64::new(nanos(b.max_wait)),
                retry_after: AtomicU64::new(nanos(b.retry_after)),
                telemetry,
                control,
            }),
        }
    }

    /// Takes a permit if a slot is free, never waiting: otherwise `BulkheadFull` at once,
    /// even when a queue is configured (queued callers keep their turn).
    #[inline]
    pub fn try_acquire(&self) -> Result<Permit, Error> {
        if self.shared.slots.try_take() {
            Ok(Permit::new(self.clone()))
        } else {
            Err(self.full_error("at_capacity"))
        }
    }

    /// Takes a permit, waiting in the queue if the configuration allows; see the table in
    /// the [module docs](self).
    ///
    /// The attempt is made when `acquire` is called, not when the future is first polled:
    /// the returned [`Acquire`] already holds the permit or the error, unless the caller
    /// was queued ([`Acquire::is_waiting`]; [`admit`](Self::admit) says which). A queued
    /// caller takes its place in the FIFO queue here, so callers are served in the order
    /// they called `acquire`, whenever their futures are first polled.
    #[inline]
    pub fn acquire(&self) -> Acquire {
        if self.shared.slots.try_take() {
            return Acquire::decided(Ok(Permit::new(self.clone())));
        }
        self.acquire_slow()
    }

    #[cold]
    fn acquire_slow(&self) -> Acquire {
        let shared = &*self.shared;
        if shared.slots.max_waiting() == 0 {
            return Acquire::decided(Err(self.full_error("at_capacity")));
        }
        let now = Instant::now();
        let mut until = now
            .checked_add(self.max_wait())
            .unwrap_or_else(|| now + Duration::from_secs(86_400 * 365));
        let mut by_deadline = false;
        let deadline = Deadline::current();
        if let Some(deadline) = deadline {
            if deadline.instant() <= until {
                until = deadline.instant();
                by_deadline = true;
            }
        }
        if by_deadline && until <= now {
            return Acquire::decided(Err(self.deadline_error(Duration::ZERO)));
        }
        if let (Some(deadline), Some(control)) = (deadline, &shared.control) {
            // Deadline-aware admission: refuse now what could not be served in time.
            let position = shared.slots.waiting() + 1;
            if let Some(expected) = control.expected_wait(position, shared.slots.limit()) {
                let left = deadline.instant().saturating_duration_since(now);
                if left < expected {
                    return Acquire::decided(Err(self.expected_wait_error(expected, left)));
                }
            }
        }
        match shared.slots.try_take_or_enqueue() {
            Entry::Taken => Acquire::decided(Ok(Permit::new(self.clone()))),
            Entry::QueueFull => Acquire::decided(Err(self.full_error("queue_full"))),
            Entry::Queued => acquire::wait(self.clone(), now, until, by_deadline),
        }
    }

    /// Runs `operation` holding a permit (asked for when the returned future is first
    /// polled; it may wait as configured). The permit is released when `operation`
    /// finishes or the returned future is dropped.
    ///
    /// # Errors
    ///
    /// The bulkhead refused the call (`BulkheadFull`, or `DeadlineExceeded` when the
    /// deadline ended the wait).
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
        &self.shared.name
    }

    /// How many calls may hold a permit at once: `max_concurrent`, or the current limit
    /// of an [adaptive bulkhead](crate::adaptive).
    pub fn capacity(&self) -> usize {
        self.shared.slots.limit()
    }

    /// `max_waiting`: how many callers may queue.
    pub fn max_waiting(&self) -> usize {
        self.shared.slots.max_waiting()
    }

    /// `max_wait`: the longest a queued caller waits.
    pub fn max_wait(&self) -> Duration {
        Duration::from_nanos(self.shared.max_wait.load(Ordering::Relaxed))
    }

    /// The `retry_after` hint of this bulkhead's `BulkheadFull` errors.
    pub fn retry_after(&self) -> Duration {
        Duration::from_nanos(self.shared.retry_after.load(Ordering::Relaxed))
    }

    /// Applies `builder`'s options to this bulkhead in place, for every clone at once,
    /// without touching the permits held or the callers queued.
    ///
    /// - A higher `max_concurrent` hands the new room to queued callers at once.
    /// - A lower one takes no permit back: calls in flight above it finish, and no new
    ///   call is admitted until the count is under the new cap.
    /// - A lower `max_waiting` lets callers already queued keep their place; new callers
    ///   queue only while fewer than the new bound wait. `max_wait` applies to callers
    ///   that queue from now on, and `retry_after` to the next rejection.
    ///
    /// The bulkhead keeps its name. On the bulkhead of an
    /// [adaptive bulkhead](crate::adaptive) the limiter keeps moving the cap, so
    /// `max_concurrent` is ignored there.
    ///
    /// ```
    /// use resilience_core::bulkhead::Bulkhead;
    ///
    /// let bulkhead = Bulkhead::builder().max_concurrent(1).build().unwrap();
    /// let held = bulkhead.try_acquire().unwrap();
    /// assert!(bulkhead.try_acquire().is_err());
    /// bulkhead.reconfigure(Bulkhead::builder().max_concurrent(2)).unwrap();
    /// let second = bulkhead.try_acquire().unwrap();
    /// assert_eq!(bulkhead.in_flight(), 2);
    /// # drop((held, second));
    /// ```
    ///
    /// # Errors
    ///
    /// The options are invalid, as [`build`](BulkheadBuilder::build) would say; the
    /// bulkhead is unchanged then.
    pub fn reconfigure(&self, builder: BulkheadBuilder) -> Result<(), crate::ConfigError> {
        builder.check()?;
        let shared = &*self.shared;
        shared
            .max_wait
            .store(nanos(builder.max_wait), Ordering::Relaxed);
        shared
            .retry_after
            .store(nanos(builder.retry_after), Ordering::Relaxed);
        shared.slots.set_max_waiting(builder.max_waiting);
        if shared.control.is_none() {
            shared.slots.set_limit(builder.max_concurrent);
        }
        Ok(())
    }

    /// Permits held now (a slot being handed to a waiter counts as held).
    pub fn in_flight(&self) -> usize {
        self.shared.slots.in_flight()
    }

    /// Callers queued for a permit now.
    pub fn waiting(&self) -> usize {
        self.shared.slots.waiting()
    }

    /// Slots free now: `capacity - in_flight`.
    pub fn available(&self) -> usize {
        self.capacity().saturating_sub(self.in_flight())
    }

    /// A point-in-time view for health endpoints and registries.
    pub fn snapshot(&self) -> BulkheadSnapshot {
        BulkheadSnapshot {
            name: self.shared.name.clone(),
            capacity: self.capacity(),
            in_flight: self.in_flight(),
            waiting: self.waiting(),
            max_waiting: self.max_waiting(),
        }
    }

    /// Whether `self` and `other` are clones of the same bulkhead.
    pub fn same_as(&self, other: &Bulkhead) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }

    fn rejected(&self, err: Error) -> Error {
        self.shared.telemetry.rejected.increment(1);
        tracing::debug!(
            bulkhead = self.shared.name.as_str(),
            kind = err.kind().as_str(),
            "bulkhead refused a call"
        );
        err
    }

    #[cold]
    fn full_error(&self, reason: &'static str) -> Error {
        self.rejected(
            Error::new(ErrorKind::BulkheadFull)
                .or_origin(Primitive::Bulkhead, self.shared.name.clone())
                .with_retry_after(self.retry_after())
                .with_field("reason", reason),
        )
    }

    #[cold]
    fn timed_out_error(&self, waited: Duration) -> Error {
        self.rejected(
            Error::new(ErrorKind::BulkheadFull)
                .or_origin(Primitive::Bulkhead, self.shared.name.clone())
                .with_retry_after(self.retry_after())
                .with_elapsed(waited)
                .with_field("reason", "max_wait")
                .with_field("waited", waited),
        )
    }

    pub(crate) fn slots(&self) -> &Slots {
        &self.shared.slots
    }

    pub(crate) fn control(&self) -> Option<&Control> {
        self.shared.control.as_ref()
    }

    #[cold]
    fn expected_wait_error(&self, expected: Duration, left: Duration) -> Error {
        self.rejected(
            Error::new(ErrorKind::DeadlineExceeded)
                .or_origin(Primitive::Bulkhead, self.shared.name.clone())
                .with_field("reason", "expected_wait")
                .with_field("expected_wait", expected)
                .with_field("deadline_left", left),
        )
    }

    #[cold]
    fn deadline_error(&self, waited: Duration) -> Error {
        self.rejected(
            Error::new(ErrorKind::DeadlineExceeded)
                .or_origin(Primitive::Bulkhead, self.shared.name.clone())
                .with_elapsed(waited)
                .with_field("waited", waited),
        )
    }
}

impl fmt::Debug for Bulkhead {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &*self.shared;
        f.debug_struct("Bulkhead")
            .field("name", &s.name.as_str())
            .field("capacity", &self.capacity())
            .field("in_flight", &self.in_flight())
            .field("waiting", &self.waiting())
            .field("max_waiting", &self.max_waiting())
            .field("max_wait", &self.max_wait())
            .field("retry_after", &self.retry_after())
            .finish()
    }
}
