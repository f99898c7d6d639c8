//! Enforcement: [`enforce`] and [`Deadline::run`] abandon a future when its deadline
//! passes, and fail with [`ErrorKind::DeadlineExceeded`].

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use pin_project_lite::pin_project;
use tokio::time::Instant;

use super::{Deadline, scope};
use crate::telemetry::{deadline_where, field, label, metric};
use crate::timer::LazyTimer;
use crate::{Error, ErrorKind, Name, Primitive};

/// Runs `future` under the ambient deadline ([`Deadline::current`], read on the first
/// poll) and fails with [`ErrorKind::DeadlineExceeded`] when it passes.
///
/// - No ambient deadline: `future` runs as it would unwrapped; no timer is created and
///   nothing is allocated.
/// - The deadline has already passed on the first poll: the error is a rejection
///   ([`Error::is_rejection`]) and `future` is dropped without ever being polled, so the
///   operation never starts.
/// - The deadline passes while `future` runs: `future` is dropped at once (its work stops
///   at its next `.await`; it is dropped with the deadline ambient and expired, which is how
///   a circuit breaker inside counts the call as a timeout), and the error is marked
///   [`during_call`](Error::during_call).
///
/// The error carries the primitive (`deadline`), the time the call had
/// ([`field`](Error::field) `budget`), the [`elapsed`](Error::elapsed) time and where it
/// passed (field `where`: `before_call` or `during_call`). Each expiry increments
/// `resilience_deadline_exceeded_total{name, where}` (name `default`; an [`Enforcer`]
/// counts under its own name), and a bounded call records the time it had in the current
/// span's `deadline.remaining_seconds` field.
///
/// ```
/// use std::time::Duration;
/// use resilience_core::deadline::{self, Deadline};
/// use resilience_core::ErrorKind;
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
/// let slow = async {
///     tokio::time::sleep(Duration::from_secs(10)).await;
///     "done"
/// };
/// let result = deadline::scope(Deadline::after(Duration::from_millis(100)), async {
///     deadline::enforce(slow).await
/// })
/// .await;
/// let err = result.unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::DeadlineExceeded);
/// assert!(!err.is_rejection()); // it was running when the deadline passed
///
/// // Without a deadline, nothing changes.
/// assert_eq!(deadline::enforce(async { 7 }).await.unwrap(), 7);
/// # }
/// ```
#[inline]
pub fn enforce<F: Future>(future: F) -> Enforce<F> {
    Enforce::new(None, future)
}

/// Spawns `future` on the tokio runtime with the ambient deadline of the caller, enforced:
/// `tokio::spawn(propagate(enforce(future)))`.
///
/// See [`propagate`](super::propagate) for why a plain `tokio::spawn` loses the deadline.
/// The task ends with `Err(DeadlineExceeded)` when the deadline passes, whether or not
/// anyone still awaits its `JoinHandle`. Called outside any scope, there is no deadline to
/// carry and the task runs to completion unbounded, as with `tokio::spawn`.
///
/// # Panics
///
/// Like `tokio::spawn`, when called outside a tokio runtime.
pub fn spawn<F>(future: F) -> tokio::task::JoinHandle<Result<F::Output, Error>>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    tokio::spawn(super::propagate(enforce(future)))
}

impl Deadline {
    /// Runs `future` with this deadline as its ambient deadline (as
    /// [`scope`]) and enforces it (as [`enforce`]): `scope` and `enforce`
    /// in one future, with one timer.
    ///
    /// An earlier deadline already in force where the future is first polled wins.
    ///
    /// ```
    /// use std::time::Duration;
    /// use resilience_core::{Deadline, ErrorKind};
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
    /// let expired = Deadline::after(Duration::ZERO);
    /// let err = expired.run(async { unreachable!("never polled") }).await.unwrap_err();
    /// assert_eq!(err.kind(), ErrorKind::DeadlineExceeded);
    /// assert!(err.is_rejection());
    /// # }
    /// ```
    #[inline]
    pub fn run<F: Future>(self, future: F) -> Enforce<F> {
        Enforce::new(Some(self), future)
    }
}

/// Deadline enforcement under one instance name: [`run`](Enforcer::run) and
/// [`enforce`](Enforcer::enforce) as the free functions, but every expiry counts as
/// `resilience_deadline_exceeded_total{name, where}` under this name and carries it as
/// the error's instance. `DeadlineLayer` holds one; so does a
/// `#[resilient(deadline = ...)]` function.
///
/// ```
/// use std::time::Duration;
/// use resilience_core::deadline::{Deadline, Enforcer};
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
/// let payments = Enforcer::new("payments");
/// let err = payments
///     .run(Deadline::after(Duration::from_millis(50)), std::future::pending::<()>())
///     .await
///     .unwrap_err();
/// assert_eq!(err.instance(), Some("payments"));
/// # }
/// ```
///
/// # Cost
///
/// Every bounded call carries the enforcer in its future, so it is one name wide and
/// clones as a plain copy: a name that is not `&'static` is interned when the enforcer is
/// built (once per distinct name for the life of the process; instance names come from
/// code and configuration, so they are few). Calls on several threads share nothing they
/// write to. The counter is looked up by name when a deadline passes, under the metrics
/// recorder installed then, which costs that (failing) call a registry lookup.
#[derive(Clone)]
pub struct Enforcer {
    name: Name,
}

impl Enforcer {
    /// An enforcer counting under the instance `name`.
    pub fn new(name: impl Into<Name>) -> Self {
        Self {
            name: name.into().interned(),
        }
    }

    /// The instance name.
    pub fn name(&self) -> &Name {
        &self.name
    }

    /// [`Deadline::run`], counted under this name.
    #[inline(always)]
    pub fn run<F: Future>(&self, deadline: Deadline, future: F) -> Enforce<F> {
        let mut enforce = Enforce::new(Some(deadline), future);
        enforce.enforcer = Some(self.clone());
        enforce
    }

    /// [`run`](Self::run) for a caller that has just read the clock (`now`), checked that
    /// `deadline` is still ahead and already is the earliest in force (it took
    /// [`Deadline::current`] into account): the first poll then reads neither the clock
    /// nor the ambient deadline. Layers use it to read each once per request.
    #[inline(always)]
    pub fn run_started<F: Future>(
        &self,
        deadline: Deadline,
        now: Instant,
        future: F,
    ) -> Enforce<F> {
        Enforce {
            requested: Some(deadline),
            started: Some(now),
            state: State::Unresolved,
            enforcer: Some(self.clone()),
            future: Slot::Live { future },
            timer: LazyTimer::new(),
        }
    }

    /// [`enforce`], counted under this name.
    #[inline(always)]
    pub fn enforce<F: Future>(&self, future: F) -> Enforce<F> {
        let mut enforce = Enforce::new(None, future);
        enforce.enforcer = Some(self.clone());
        enforce
    }

    /// The error of a call refused because `deadline` had passed before it started (a
    /// rejection), counted under this name: for code that checks the deadline itself
    /// before making the call.
    pub fn expired(&self, deadline: Deadline) -> Error {
        self.exceeded(deadline, None)
    }

    /// Counts one expiry and builds its error; see [`enforce`] for the context it carries.
    /// `started` is `None` when the deadline had passed before the call.
    #[cold]
    fn exceeded(&self, deadline: Deadline, started: Option<Instant>) -> Error {
        count_exceeded(self.name.to_shared_string(), started);
        exceeded_error(deadline, started).with_instance(self.name.clone())
    }
}

/// One expiry in `resilience_deadline_exceeded_total{name, where}`.
fn count_exceeded(name: metrics::SharedString, started: Option<Instant>) {
    let where_ = match started {
        None => deadline_where::BEFORE_CALL,
        Some(_) => deadline_where::DURING_CALL,
    };
    metrics::counter!(
        metric::DEADLINE_EXCEEDED_TOTAL,
        label::NAME => name,
        label::WHERE => where_,
    )
    .increment(1);
}

impl fmt::Debug for Enforcer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Enforcer")
            .field("name", &self.name)
            .finish()
    }
}

/// The error of a deadline that passed: before the call when `started` is `None`, else
/// during it.
fn exceeded_error(deadline: Deadline, started: Option<Instant>) -> Error {
    let err = Error::new(ErrorKind::DeadlineExceeded).with_primitive(Primitive::Deadline);
    match started {
        None => err
            .with_elapsed(Duration::ZERO)
            .with_field("budget", Duration::ZERO)
            .with_field("where", deadline_where::BEFORE_CALL),
        Some(started) => err
            .with_elapsed(started.elapsed())
            .with_field(
                "budget",
                deadline.instant().saturating_duration_since(started),
            )
            .with_field("where", deadline_where::DURING_CALL)
            .during_call(),
    }
}

#[cold]
fn report(enforcer: Option<&Enforcer>, deadline: Deadline, started: Option<Instant>) -> Error {
    match enforcer {
        Some(enforcer) => enforcer.exceeded(deadline, started),
        None => {
            count_exceeded(metrics::SharedString::const_str("default"), started);
            exceeded_error(deadline, started)
        }
    }
}

/// Records the time a bounded call has (until `deadline`, from `now`) in the current
/// span's `deadline.remaining_seconds`.
#[inline(always)]
pub(crate) fn record_remaining(deadline: Deadline, now: Instant) {
    // Without any subscriber there is no span to record in; skip the span lookup (and
    // the subtraction).
    if tracing::dispatcher::has_been_set() {
        record_remaining_in_span(deadline, now);
    }
}

#[inline(never)]
fn record_remaining_in_span(deadline: Deadline, now: Instant) {
    let span = tracing::Span::current();
    if !span.is_disabled() {
        let remaining = deadline.instant().saturating_duration_since(now);
        span.record(field::DEADLINE_REMAINING_SECONDS, remaining.as_secs_f64());
    }
}

pin_project! {
    /// The future returned by [`enforce`] and [`Deadline::run`].
    #[must_use = "futures do nothing unless polled"]
    pub struct Enforce<F> {
        requested: Option<Deadline>,
        started: Option<Instant>,
        state: State,
        enforcer: Option<Enforcer>,
        #[pin]
        future: Slot<F>,
        #[pin]
        timer: LazyTimer,
    }
}

#[derive(Clone, Copy, Debug)]
enum State {
    /// Not polled yet: the deadline is read on the first poll.
    Unresolved,
    /// No deadline: a plain pass-through.
    Unbounded,
    /// Running under `deadline` since `started`.
    Bounded {
        deadline: Deadline,
        started: Instant,
    },
    /// Finished or abandoned.
    Done,
}

pin_project! {
    #[project = SlotProj]
    enum Slot<F> {
        Live { #[pin] future: F },
        Gone,
    }
}

impl<F> Enforce<F> {
    #[inline(always)]
    fn new(requested: Option<Deadline>, future: F) -> Self {
        Self {
            requested,
            started: None,
            state: State::Unresolved,
            enforcer: None,
            future: Slot::Live { future },
            timer: LazyTimer::new(),
        }
    }
}

impl<F> fmt::Debug for Enforce<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Enforce")
            .field("requested", &self.requested)
            .field("state", &self.state)
            .field("enforcer", &self.enforcer)
            .finish_non_exhaustive()
    }
}

impl<F: Future> Future for Enforce<F> {
    type Output = Result<F::Output, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        if let State::Unresolved = this.state {
            let deadline = match (*this.requested, *this.started) {
                // The caller resolved it against the ambient deadline already.
                (Some(requested), Some(_)) => Some(requested),
                (requested, _) => match (requested, Deadline::current()) {
                    (Some(requested), Some(outer)) => Some(requested.min(outer)),
                    (requested, outer) => requested.or(outer),
                },
            };
            *this.state = match deadline {
                None => State::Unbounded,
                Some(deadline) => {
                    let now = match *this.started {
                        Some(now) => now,
                        None => Instant::now(),
                    };
                    if this.started.is_none() && now >= deadline.instant() {
                        *this.state = State::Done;
                        this.future.set(Slot::Gone);
                        return Poll::Ready(Err(report(this.enforcer.as_ref(), deadline, None)));
                    }
                    record_remaining(deadline, now);
                    State::Bounded {
                        deadline,
                        started: now,
                    }
                }
            };
        }

        let SlotProj::Live { future } = this.future.as_mut().project() else {
            panic!("`Enforce` polled after completion");
        };
        let (deadline, started) = match *this.state {
            State::Bounded { deadline, started } => (deadline, started),
            _ => return future.poll(cx).map(Ok),
        };
        let polled = match this.requested {
            // `run`: the deadline is this future's own; make it ambient inside.
            Some(_) => scope::enter(deadline, || future.poll(cx)),
            // `enforce`: the ambient deadline is already in force.
            None => future.poll(cx),
        };
        if let Poll::Ready(output) = polled {
            *this.state = State::Done;
            return Poll::Ready(Ok(output));
        }
        // The timer is armed only once the future has had to wait: a future that
        // finishes on its first poll (the deadline was checked ahead of it) never
        // touches the timer wheel.
        ready!(this.timer.poll_at(cx, || deadline.instant()));
        *this.state = State::Done;
        // Dropped with the deadline ambient, so that what the future holds can tell it was
        // cut off by the deadline (a circuit breaker's permit then counts a timeout).
        match this.requested {
            Some(_) => scope::enter(deadline, || this.future.set(Slot::Gone)),
            None => this.future.set(Slot::Gone),
        }
        Poll::Ready(Err(report(this.enforcer.as_ref(), deadline, Some(started))))
    }
}
