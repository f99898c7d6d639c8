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
//! # Enforcing it
//!
//! [`scope`] only *sets* the deadline. [`enforce`] runs a future under the ambient
//! deadline and abandons it with [`ErrorKind::DeadlineExceeded`](crate::ErrorKind) when it
//! passes; [`Deadline::run`] is `scope` and `enforce` in one. A deadline that has already
//! passed is a rejection: the operation is never polled. Without any deadline, `enforce`
//! is a pass-through with no timer.
//!
//! # Across `tokio::spawn`
//!
//! The ambient deadline is set around every poll of the future it was set on (as a tokio
//! task-local is), so it follows that future through every `.await` on any runtime
//! (current-thread or multi-thread, across worker threads), but it does **not** follow
//! work into a new task: `tokio::spawn(work)` starts `work` with no deadline. Opt in with
//! [`propagate`] (capture the deadline now, re-scope it in the task) or [`spawn`]
//! (propagate and enforce). `spawn_blocking` and threads are out of its reach; pass
//! [`Deadline::remaining`] to them explicitly.
//!
//! # On the wire
//!
//! [`codec`] encodes and decodes the remaining time as gRPC's `grpc-timeout` and as
//! milliseconds; the server and client layers of `resilience-tower` use it to receive a
//! deadline from the caller and hand what is left to the next service.
//!
//! All times come from tokio's clock ([`tokio::time::Instant`]), so tests can run under
//! `tokio::time::pause()`.

pub mod codec;
mod enforce;
mod policy;
mod scope;

use std::fmt;
use std::time::Duration;

use tokio::time::Instant;

pub use enforce::{Enforce, Enforcer, enforce, spawn};
pub use policy::{DeadlinePolicy, DeadlinePolicyBuilder, DeadlineSnapshot};
pub use scope::{Propagate, Scope, propagate, scope, sync_scope, sync_scope_opt, sync_scope_with};

/// An absolute instant by which work must be done.
///
/// `Deadline` is `Copy` and one [`Instant`] wide, and ordered by time: the earlier of two
/// is `a.min(b)` ([`Ord::min`]).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Deadline {
    at: Instant,
}

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
        Self {
            at: crate::timer::after(Instant::now(), budget),
        }
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

    /// The ambient deadline of the current task, if a [`scope`] set one.
    ///
    /// Outside any scope (or outside a tokio task) this is `None`, which means "no
    /// deadline", not "expired".
    #[must_use]
    #[inline]
    pub fn current() -> Option<Self> {
        scope::current()
    }
}

impl fmt::Debug for Deadline {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Deadline")
            .field("remaining", &self.remaining())
            .finish()
    }
}
