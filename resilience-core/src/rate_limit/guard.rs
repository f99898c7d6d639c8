//! [`Guarded`]: one call that takes its turn from a rate limit first — at once, after a
//! booked wait, or refused. The one place where a rate limit's work around an operation is
//! written; `#[resilient]` wraps this future, and so does the tower layer for a request
//! that waits or is refused (one admitted at once has nothing around it: the layer runs
//! the inner service's future as it is, after [`Acquire::into_decided`]).

use std::fmt;
use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use pin_project_lite::pin_project;

use super::{Acquire, Grant, RateLimiter};
use crate::Error;
use crate::outcome::Outcome;

impl RateLimiter {
    /// The limiter's work around `work`, a future producing an [`Outcome`]: takes one unit
    /// now (booking a turn if [`max_wait`](super::RateLimiterBuilder::max_wait) allows);
    /// see [`Guarded`]. What [`call`](Self::call) and `#[resilient(rate_limit = ...)]` are
    /// made of.
    #[inline(always)]
    pub fn guard<F: Future>(&self, work: F) -> Guarded<F> {
        Guarded::new(self.acquire(), work)
    }
}

pin_project! {
    /// A call that runs only once a rate limit granted it a turn: made by
    /// [`RateLimiter::guard`], or by [`new`](Self::new) from any limiter's [`Acquire`]
    /// (keyed, Redis). The turn is asked for then, not when this is first polled, so
    /// callers that wait are served in the order they asked.
    ///
    /// `D` is the work: a future, or anything that becomes one ([`IntoFuture`]) once the
    /// turn comes.
    ///
    /// - Room now: the work starts at once.
    /// - Room later, within `max_wait` and before the ambient deadline: the work waits,
    ///   not started, until the booked turn comes (dropping this future before then gives
    ///   the turn back to a local limiter).
    /// - No room in time: the outcome is the limiter's error (`RateLimited` with a
    ///   `retry_after` hint, or `DeadlineExceeded`), a rejection; the work never started.
    ///
    /// The work produces an [`Outcome`]; so does this future. The [`Grant`] it ran under
    /// is kept for the caller ([`grant`](Self::grant)): the tower layer writes the
    /// `RateLimit` headers from it.
    #[must_use = "futures do nothing unless polled"]
    pub struct Guarded<D: IntoFuture> {
        #[pin]
        state: State<D>,
        grant: Option<Grant>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<D: IntoFuture> {
        Admitted {
            #[pin]
            work: D::IntoFuture,
        },
        Waiting {
            acquire: Acquire,
            // Boxed: the work kept for later (a request and a service) is often large,
            // and only a caller that waits keeps it; an admitted call's future stays as
            // small as its work's, so moving it copies no kept request.
            work: Option<Box<D>>,
        },
        Refused {
            error: Option<Error>,
        },
    }
}

impl<D: IntoFuture> Guarded<D> {
    /// `work` under the turn `acquire` asked for: started at once if it was granted,
    /// refused if it was refused, kept until the turn comes otherwise.
    #[inline(always)]
    pub fn new(acquire: Acquire, work: D) -> Self {
        match acquire.into_decided() {
            Ok(Ok(grant)) => Self::admitted(grant, work.into_future()),
            Ok(Err(error)) => Self::refused(error),
            Err(acquire) => Self::waiting(acquire, work),
        }
    }

    /// Granted `grant`: `work` runs at once.
    #[inline(always)]
    pub fn admitted(grant: Grant, work: D::IntoFuture) -> Self {
        Self {
            state: State::Admitted { work },
            grant: Some(grant),
        }
    }

    /// Waiting for its turn: `work` is kept, not started, until `acquire` grants it.
    /// The work is kept in a box until then (the one allocation of a wait besides the
    /// turn's own).
    pub fn waiting(acquire: Acquire, work: D) -> Self {
        Self {
            state: State::Waiting {
                acquire,
                work: Some(Box::new(work)),
            },
            grant: None,
        }
    }

    /// Refused with `error` (the work is never started).
    pub fn refused(error: Error) -> Self {
        Self {
            state: State::Refused { error: Some(error) },
            grant: None,
        }
    }

    /// The turn the work runs under, once it was granted (`None` while waiting, and when
    /// refused).
    #[inline]
    pub fn grant(&self) -> Option<Grant> {
        self.grant
    }
}

impl<D, T, E> Future for Guarded<D>
where
    D: IntoFuture<Output = Outcome<T, E>>,
{
    type Output = Outcome<T, E>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut state = this.state;
        loop {
            match state.as_mut().project() {
                StateProj::Admitted { work } => return work.poll(cx),
                StateProj::Waiting { acquire, work } => {
                    let grant = match ready!(Pin::new(acquire).poll(cx)) {
                        Ok(grant) => grant,
                        Err(error) => return Poll::Ready(Err(error)),
                    };
                    let work = work.take().expect("`Guarded` polled after completion");
                    *this.grant = Some(grant);
                    state.set(State::Admitted {
                        work: (*work).into_future(),
                    });
                }
                StateProj::Refused { error } => {
                    let error = error.take().expect("`Guarded` polled after completion");
                    return Poll::Ready(Err(error));
                }
            }
        }
    }
}

impl<D: IntoFuture> fmt::Debug for Guarded<D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.state {
            State::Admitted { .. } => "admitted",
            State::Waiting { .. } => "waiting",
            State::Refused { .. } => "refused",
        };
        f.debug_struct("Guarded")
            .field("state", &state)
            .field("grant", &self.grant)
            .finish()
    }
}
