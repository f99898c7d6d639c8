//! [`Phase`] (where the service is in its life) and the count of requests in flight.

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::{Notify, watch};

use super::Health;
use crate::{Error, ErrorKind, Primitive};

/// Where a service is in its life, as readiness sees it. Phases only move forward, in
/// the order listed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Phase {
    /// Startup checks have not passed yet: readiness fails.
    Starting,
    /// Started: readiness follows the checks.
    Ready,
    /// The startup checks did not pass within the startup timeout: readiness fails for
    /// good (the process should exit and be restarted).
    StartupFailed,
    /// Shutdown began: readiness fails so load balancers stop sending traffic, while
    /// requests are still served for the shutdown delay.
    Stopping,
    /// New requests are refused with [`ShuttingDown`](ErrorKind::ShuttingDown); the ones
    /// in flight finish within the drain timeout.
    Draining,
}

impl Phase {
    /// A stable `snake_case` identifier, the lifecycle check's observed value.
    pub const fn as_str(self) -> &'static str {
        match self {
            Phase::Starting => "starting",
            Phase::Ready => "ready",
            Phase::StartupFailed => "startup_failed",
            Phase::Stopping => "stopping",
            Phase::Draining => "draining",
        }
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A phase serializes as its identifier (`"draining"`).
#[cfg(feature = "serde")]
impl serde::Serialize for Phase {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// Set in [`Lifecycle::requests`] once draining begins; the other bits count requests.
const DRAINING: usize = 1 << (usize::BITS - 1);

/// The phase, and the requests in flight packed with the draining flag in one word, so
/// that "admit unless draining" and "drained once the count is zero" cannot race.
pub(crate) struct Lifecycle {
    phase: watch::Sender<Phase>,
    requests: AtomicUsize,
    idle: Notify,
}

impl Lifecycle {
    pub(crate) fn new() -> Self {
        Self {
            phase: watch::Sender::new(Phase::Starting),
            requests: AtomicUsize::new(0),
            idle: Notify::new(),
        }
    }

    pub(crate) fn phase(&self) -> Phase {
        *self.phase.borrow()
    }

    /// Moves to `to` if that is forward from the current phase and `allowed` accepts the
    /// current phase; returns whether it moved.
    pub(crate) fn advance(&self, to: Phase, allowed: impl Fn(Phase) -> bool) -> bool {
        self.phase.send_if_modified(|phase| {
            let moves = *phase < to && allowed(*phase);
            if moves {
                *phase = to;
            }
            moves
        })
    }

    /// Waits until the phase is `at_least` or later.
    pub(crate) async fn reached(&self, at_least: Phase) {
        let mut rx = self.phase.subscribe();
        // The sender lives as long as `self`: `wait_for` cannot fail while we borrow it.
        let _ = rx.wait_for(|phase| *phase >= at_least).await;
    }

    /// Refuses requests from now on (they are counted until then).
    pub(crate) fn start_draining(&self) {
        let before = self.requests.fetch_or(DRAINING, Ordering::AcqRel);
        if before & !DRAINING == 0 {
            self.idle.notify_waiters();
        }
    }

    /// Counts a request in, unless draining.
    pub(crate) fn enter(&self) -> bool {
        let before = self.requests.fetch_add(1, Ordering::AcqRel);
        if before & DRAINING != 0 {
            self.leave();
            return false;
        }
        true
    }

    pub(crate) fn leave(&self) {
        let before = self.requests.fetch_sub(1, Ordering::AcqRel);
        if before == DRAINING | 1 {
            self.idle.notify_waiters();
        }
    }

    pub(crate) fn in_flight(&self) -> usize {
        self.requests.load(Ordering::Acquire) & !DRAINING
    }

    /// Waits until draining has begun and no request is in flight.
    pub(crate) async fn drained(&self) {
        loop {
            let notified = self.idle.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.requests.load(Ordering::Acquire) == DRAINING {
                return;
            }
            notified.await;
        }
    }
}

/// A request counted in flight by [`Health::enter`]; dropping it counts the request out.
/// Draining waits for every `InFlight` to be dropped (up to the drain timeout).
#[must_use = "the request counts as in flight only while this guard lives"]
pub struct InFlight {
    health: Health,
}

impl InFlight {
    pub(crate) fn new(health: Health) -> Self {
        Self { health }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.health.shared.lifecycle.leave();
    }
}

impl fmt::Debug for InFlight {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InFlight").finish_non_exhaustive()
    }
}

/// The error of a request refused while draining.
pub(crate) fn shutting_down() -> Error {
    Error::new(ErrorKind::ShuttingDown)
        .with_primitive(Primitive::Health)
        .with_detail("the service is shutting down")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases_only_move_forward() {
        let lifecycle = Lifecycle::new();
        assert!(lifecycle.advance(Phase::Stopping, |_| true));
        assert!(!lifecycle.advance(Phase::Ready, |_| true));
        assert_eq!(lifecycle.phase(), Phase::Stopping);
    }

    #[test]
    fn a_request_entering_after_draining_began_is_refused_and_not_counted() {
        let lifecycle = Lifecycle::new();
        assert!(lifecycle.enter());
        lifecycle.start_draining();
        assert!(!lifecycle.enter());
        assert_eq!(lifecycle.in_flight(), 1);
        lifecycle.leave();
        assert_eq!(lifecycle.in_flight(), 0);
    }
}
