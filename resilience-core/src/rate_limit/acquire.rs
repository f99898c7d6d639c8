//! [`Acquire`], the future every rate limiter's `acquire` returns, and the [`Grant`] it
//! resolves to: the one place where waiting for a turn is written.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use pin_project_lite::pin_project;
use tokio::time::{Instant, Sleep};

use super::common::Common;
use super::gcra::Gcra;
use crate::Error;
use crate::durations::nanos;

/// Units taken from a rate limit, and what is left of it.
///
/// HTTP layers send [`remaining`](Grant::remaining) and [`reset`](Grant::reset) as the
/// `r` and `t` of a `RateLimit` header.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Grant {
    /// The limit's numbers; an interval of zero marks a grant made without the limit.
    gcra: Gcra,
    backlog: u64,
    /// Nanoseconds.
    waited: u64,
}

impl Grant {
    #[inline]
    pub(crate) fn new(gcra: Gcra, backlog: u64) -> Self {
        Self {
            gcra,
            backlog,
            waited: 0,
        }
    }

    /// A grant made without asking the limit: a request the limit exempts (a tower key
    /// extractor that found no key), or a limiter whose store failed and that fails open.
    /// [`is_checked`](Self::is_checked) is `false`.
    #[must_use]
    pub fn unchecked() -> Self {
        Self {
            gcra: Gcra {
                interval: 0,
                tolerance: 0,
            },
            backlog: 0,
            waited: 0,
        }
    }

    /// Whole units the same key could take right now, after this grant.
    #[must_use]
    pub fn remaining(&self) -> u64 {
        if self.is_checked() {
            self.gcra.remaining(self.backlog)
        } else {
            0
        }
    }

    /// The burst of the quota this grant was made under (the `q` of a `RateLimit-Policy`
    /// header); 0 when the limit was not consulted.
    #[must_use]
    pub fn limit(&self) -> u64 {
        self.gcra
            .tolerance
            .checked_div(self.gcra.interval)
            .unwrap_or(0)
    }

    /// The refill time of the quota this grant was made under: how long an exhausted key
    /// takes to get its whole burst back (the `w` of a `RateLimit-Policy` header).
    #[must_use]
    pub fn window(&self) -> Duration {
        Duration::from_nanos(self.gcra.tolerance)
    }

    /// How long until the key has its whole burst back, if nothing more arrives.
    #[must_use]
    pub fn reset(&self) -> Duration {
        Duration::from_nanos(self.backlog)
    }

    /// How long the caller waited for its turn (zero when admitted at once).
    #[must_use]
    pub fn waited(&self) -> Duration {
        Duration::from_nanos(self.waited)
    }

    /// `false` when the limit was not consulted: its store (Redis) failed and the limiter
    /// fails open. [`remaining`](Grant::remaining) and [`reset`](Grant::reset) then say
    /// nothing about the real state (both read zero).
    #[must_use]
    pub fn is_checked(&self) -> bool {
        self.gcra.interval != 0
    }
}

impl fmt::Debug for Grant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Grant")
            .field("remaining", &self.remaining())
            .field("reset", &self.reset())
            .field("waited", &self.waited())
            .field("checked", &self.is_checked())
            .finish()
    }
}

/// The limiter a waiting caller belongs to: for telemetry, and to give back the turn it
/// booked if it stops waiting.
pub(crate) trait Owner: Send + Sync {
    fn common(&self) -> &Common;

    /// Gives back `cost` booked by a caller that stopped waiting before its turn.
    fn refund(&self, cost: u64) {
        let _ = cost;
    }
}

/// A caller that booked a turn in the future.
pub(crate) struct Waiter {
    owner: Arc<dyn Owner>,
    /// What to give back if the caller leaves before its turn (0: nothing).
    refund: u64,
    started: Instant,
}

impl Waiter {
    pub(crate) fn new(owner: Arc<dyn Owner>, refund: u64, started: Instant) -> Self {
        Self {
            owner,
            refund,
            started,
        }
    }
}

type Remote = Pin<Box<dyn Future<Output = Acquire> + Send>>;

/// The future returned by `acquire`: resolves to a [`Grant`] or to the error that
/// refused one.
///
/// When the limit admits or refuses at once, the outcome is decided inside `acquire` and
/// this future is ready on its first poll, without allocating: see
/// [`into_decided`](Acquire::into_decided). A caller allowed to wait has already *booked*
/// its turn (so callers are served in the order they asked) and sleeps until it comes;
/// the timer is made on the first poll, so building an `Acquire` needs no runtime. A
/// Redis-backed limiter asks Redis first, within its timeout.
///
/// Dropping a local limiter's `Acquire` before its turn gives the turn back to the
/// limit. (A Redis limit's booked turn is not given back: it costs Redis nothing and
/// expires on its own.)
#[must_use = "futures do nothing unless polled"]
pub struct Acquire {
    state: State,
}

enum State {
    Ready(Option<Result<Grant, Error>>),
    Waiting(Pin<Box<Waiting>>),
    #[cfg_attr(not(feature = "redis"), allow(dead_code))] // Used by the Redis limiter.
    Remote(Remote),
}

pin_project! {
    /// A caller's booked turn: gives it back if dropped before the turn comes.
    struct Waiting {
        waiter: Waiter,
        until: Instant,
        grant: Grant,
        #[pin]
        sleep: Option<Sleep>,
    }

    impl PinnedDrop for Waiting {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            if this.waiter.refund > 0 && Instant::now() < *this.until {
                this.waiter.owner.refund(this.waiter.refund);
            }
        }
    }
}

impl Acquire {
    #[inline(always)]
    pub(crate) fn ready(outcome: Result<Grant, Error>) -> Self {
        Self {
            state: State::Ready(Some(outcome)),
        }
    }

    pub(crate) fn waiting(waiter: Waiter, until: Instant, grant: Grant) -> Self {
        Self {
            state: State::Waiting(Box::pin(Waiting {
                waiter,
                until,
                grant,
                sleep: None,
            })),
        }
    }

    #[cfg_attr(not(feature = "redis"), allow(dead_code))] // Used by the Redis limiter.
    pub(crate) fn remote(future: impl Future<Output = Acquire> + Send + 'static) -> Self {
        Self {
            state: State::Remote(Box::pin(future)),
        }
    }

    /// The outcome, if it was decided without waiting; otherwise the future itself, to be
    /// awaited. A tower layer uses it to call its inner service at once on the fast path.
    #[inline(always)]
    pub fn into_decided(self) -> Result<Result<Grant, Error>, Self> {
        match self.state {
            State::Ready(Some(outcome)) => Ok(outcome),
            state => Err(Self { state }),
        }
    }

    /// Whether the outcome is still to come: the caller waits for its turn, or for Redis.
    pub fn is_pending(&self) -> bool {
        !matches!(self.state, State::Ready(_))
    }
}

impl Future for Acquire {
    type Output = Result<Grant, Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        loop {
            match &mut self.state {
                State::Ready(outcome) => {
                    return Poll::Ready(outcome.take().expect("`Acquire` polled after completion"));
                }
                State::Remote(future) => {
                    self.state = ready!(future.as_mut().poll(cx)).state;
                }
                State::Waiting(waiting) => {
                    let mut this = waiting.as_mut().project();
                    if this.sleep.is_none() {
                        this.sleep.set(Some(tokio::time::sleep_until(*this.until)));
                    }
                    if let Some(sleep) = this.sleep.as_pin_mut() {
                        ready!(sleep.poll(cx));
                    }
                    let waited = this.waiter.started.elapsed();
                    this.waiter.owner.common().waited(waited);
                    let grant = Grant {
                        waited: nanos(waited),
                        ..*this.grant
                    };
                    // The turn came: nothing to give back.
                    this.waiter.refund = 0;
                    self.state = State::Ready(None);
                    return Poll::Ready(Ok(grant));
                }
            }
        }
    }
}

impl fmt::Debug for Acquire {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.state {
            State::Ready(Some(Ok(_))) => "admitted",
            State::Ready(Some(Err(_))) => "refused",
            State::Ready(None) => "done",
            State::Waiting(_) => "waiting",
            State::Remote(_) => "asking the store",
        };
        f.debug_struct("Acquire").field("state", &state).finish()
    }
}
