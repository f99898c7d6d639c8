//! [`LazyTimer`]: the timer every time limit here shares — [`deadline::enforce`],
//! [`Deadline::run`], [`timeout`](crate::timeout) and a retry's attempt limit.
//!
//! [`deadline::enforce`]: crate::deadline::enforce
//! [`Deadline::run`]: crate::Deadline::run

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use pin_project_lite::pin_project;
use tokio::time::{Instant, Sleep};

pin_project! {
    /// A timer armed the first time it is polled, when the future it bounds has had to
    /// wait: a future that finishes on its first poll never reads the clock for it nor
    /// touches the timer wheel. Poll the bounded future first, then this.
    #[derive(Debug)]
    pub(crate) struct LazyTimer {
        #[pin]
        sleep: Option<Sleep>,
    }
}

impl LazyTimer {
    pub(crate) const fn new() -> Self {
        Self { sleep: None }
    }

    /// Disarms the timer: the next [`poll_at`](Self::poll_at) arms it again.
    pub(crate) fn disarm(self: Pin<&mut Self>) {
        self.project().sleep.set(None);
    }

    /// Arms the timer at `at` now.
    #[inline]
    pub(crate) fn arm(self: Pin<&mut Self>, at: Instant) {
        self.project().sleep.set(Some(tokio::time::sleep_until(at)));
    }

    /// Ready once the timer [`arm`](Self::arm)ed has fired; pending for ever if it was
    /// not armed.
    #[inline]
    pub(crate) fn poll_armed(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        match self.project().sleep.as_pin_mut() {
            Some(sleep) => sleep.poll(cx),
            None => Poll::Pending,
        }
    }

    /// Ready once the timer has fired; armed at `at()` on the first call.
    #[inline]
    pub(crate) fn poll_at(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        at: impl FnOnce() -> Instant,
    ) -> Poll<()> {
        if self.sleep.is_none() {
            self.as_mut().arm(at());
        }
        self.poll_armed(cx)
    }
}

/// How far in the future [`after`] places an instant that would overflow the clock: about
/// 30 years, as tokio does for a far-future sleep.
const FAR_FUTURE: Duration = Duration::from_secs(86_400 * 365 * 30);

/// `now + limit` by tokio's clock, saturating at about thirty years from now instead of
/// panicking on overflow (a limit of `Duration::MAX`).
#[inline]
pub(crate) fn after(now: Instant, limit: Duration) -> Instant {
    now.checked_add(limit).unwrap_or_else(|| now + FAR_FUTURE)
}
