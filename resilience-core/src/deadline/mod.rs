//! Deadlines: an absolute point in time by which a piece of work must be done, carried
//! ambiently through the async call tree.
//!
//! ```
//! use std::time::Duration;
//!
//! use resilience_core::deadline::{self, Deadline};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! assert_eq!(Deadline::current(), None);
//!
//! let outer = Deadline::after(Duration::from_secs(2));
//! deadline::scope(outer, async move {
//!     assert_eq!(Deadline::current(), Some(outer));
//!
//!     // A nested scope can only shorten the deadline, never extend it.
//!     deadline::scope(Deadline::after(Duration::from_secs(60)), async move {
//!         assert_eq!(Deadline::current(), Some(outer));
//!     })
//!     .await;
//! })
//! .await;
//! # }
//! ```
//!
//! # Why a deadline, not a timeout
//!
//! A timeout is relative to when it starts, so every hop of a call chain restarts the clock:
//! a gateway gives up after 2 s while the service behind it keeps working for its own 2 s,
//! and its own dependency for 2 s more. A deadline is absolute. Once set, every primitive
//! under it sees the same end: retries stop before it, bulkhead waits end at it, and the
//! wire formats in `resilience-tower` hand what is left to the next service.
//!
//! All times come from tokio's clock ([`tokio::time::Instant`]), so tests can run under
//! `tokio::time::pause()`.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use pin_project_lite::pin_project;
use tokio::time::Instant;

tokio::task_local! {
    static CURRENT: Deadline;
}

/// An absolute instant by which work must be done.
///
/// `Deadline` is `Copy` and one [`Instant`] wide. Compare two with [`min`](Deadline::min)
/// (the earlier wins) or with the ordering operators.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Deadline {
    at: Instant,
}

/// How far in the future [`Deadline::after`] places a deadline whose budget would overflow
/// the clock: about 30 years, as tokio does for a far-future sleep.
const FAR_FUTURE: Duration = Duration::from_secs(86_400 * 365 * 30);

impl Deadline {
    /// A deadline at `instant`.
    #[must_use]
    pub const fn at(instant: Instant) -> Self {
        Self { at: instant }
    }

    /// A deadline `budget` from now, by tokio's clock.
    ///
    /// A budget too large for the clock (such as `Duration::MAX`) saturates to about thirty
    /// years from now rather than panicking.
    #[must_use]
    pub fn after(budget: Duration) -> Self {
        let now = Instant::now();
        let at = now.checked_add(budget).unwrap_or_else(|| now + FAR_FUTURE);
        Self { at }
    }

    /// The instant this deadline falls on.
    #[must_use]
    pub const fn instant(self) -> Instant {
        self.at
    }

    /// The time left until the deadline; zero once it has passed.
    #[must_use]
    pub fn remaining(self) -> Duration {
        self.at.saturating_duration_since(Instant::now())
    }

    /// Whether the deadline has passed (no time is left).
    #[must_use]
    pub fn is_expired(self) -> bool {
        Instant::now() >= self.at
    }

    /// The earlier of two deadlines.
    #[must_use]
    pub fn min(self, other: Self) -> Self {
        if other.at < self.at { other } else { self }
    }

    /// The ambient deadline of the current task, if a [`scope`] set one.
    ///
    /// Outside any scope (or outside a tokio task) this is `None`, which means "no
    /// deadline", not "expired".
    #[must_use]
    pub fn current() -> Option<Self> {
        CURRENT.try_with(|deadline| *deadline).ok()
    }
}

impl fmt::Debug for Deadline {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Deadline")
            .field("remaining", &self.remaining())
            .finish()
    }
}

/// Runs `future` with `deadline` as the ambient deadline.
///
/// Inside, [`Deadline::current`] returns the earlier of `deadline` and any deadline already
/// in force where the returned future is first polled: a nested scope never extends the
/// deadline of the scope around it.
///
/// The scope only *sets* the deadline; it does not cancel `future` when the deadline passes.
/// The primitives read it to bound their waits.
pub fn scope<F: Future>(deadline: Deadline, future: F) -> Scope<F> {
    Scope {
        requested: deadline,
        effective: None,
        future,
    }
}

pin_project! {
    /// The future returned by [`scope`].
    #[must_use = "futures do nothing unless polled"]
    pub struct Scope<F> {
        requested: Deadline,
        effective: Option<Deadline>,
        #[pin]
        future: F,
    }
}

impl<F: fmt::Debug> fmt::Debug for Scope<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scope")
            .field("deadline", &self.effective.unwrap_or(self.requested))
            .field("future", &self.future)
            .finish()
    }
}

impl<F: Future> Future for Scope<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        // Resolved on the first poll, where the enclosing scope (if any) is in force.
        let deadline = *this.effective.get_or_insert_with(|| {
            Deadline::current().map_or(*this.requested, |outer| outer.min(*this.requested))
        });
        let future = this.future;
        CURRENT.sync_scope(deadline, || future.poll(cx))
    }
}
