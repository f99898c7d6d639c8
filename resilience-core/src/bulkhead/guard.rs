//! [`Guarded`]: one call holding a bulkhead permit — taken at once, waited for, or
//! refused. The one place where the bulkhead's work around an operation is written; the
//! tower layer and `#[resilient]` wrap this future.

use std::fmt;
use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use pin_project_lite::pin_project;

use super::{Acquire, Bulkhead, Permit};
use crate::Error;
use crate::outcome::Outcome;

/// The work a bulkhead guards, in the two forms it may need: [`start`](Work::start)ed at
/// once when a permit is free, or [`defer`](Work::defer)red — kept, not started — while the
/// caller waits in the queue.
///
/// Every future is `Work` (it starts when first polled either way). A tower service is the
/// reason for the split: on the fast path it is called in place, while a waiting request
/// keeps the (ready) service and the request, leaving a clone of the service behind.
pub trait Work {
    /// The work, not yet started: turned into its future once a permit is handed over.
    type Deferred: IntoFuture;

    /// Starts the work now.
    fn start(self) -> <Self::Deferred as IntoFuture>::IntoFuture;

    /// Keeps the work for later.
    fn defer(self) -> Self::Deferred;
}

impl<F: Future> Work for F {
    type Deferred = F;

    #[inline]
    fn start(self) -> F {
        self
    }

    #[inline]
    fn defer(self) -> F {
        self
    }
}

pin_project! {
    /// A call holding a permit of a [`Bulkhead`]: made by [`Bulkhead::guard`], which asks
    /// for the permit at once (so a queued caller takes its place in the FIFO queue then).
    ///
    /// - A free slot: the work starts at once and the permit travels with it, released
    ///   when the work's future completes or this future is dropped.
    /// - Full, no queue (or the queue is full): the outcome is the `BulkheadFull`
    ///   rejection, the work never started.
    /// - Queued: the work waits, not started, until a permit is handed over (then it
    ///   starts) or the wait ends (`BulkheadFull` after `max_wait`, `DeadlineExceeded` at
    ///   the deadline).
    ///
    /// The work produces an [`Outcome`]; so does this future.
    #[must_use = "futures do nothing unless polled"]
    pub struct Guarded<D: IntoFuture> {
        #[pin]
        state: State<D>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<D: IntoFuture> {
        Admitted {
            #[pin]
            work: D::IntoFuture,
            permit: Option<Permit>,
        },
        Waiting {
            acquire: Acquire,
            work: Option<D>,
        },
        Refused {
            error: Option<Error>,
        },
    }
}

impl<D: IntoFuture> Guarded<D> {
    /// Refused with `error` (the work is never started): for code that could not even
    /// find its bulkhead.
    pub fn refused(error: Error) -> Self {
        Self {
            state: State::Refused { error: Some(error) },
        }
    }
}

impl Bulkhead {
    /// The bulkhead's work around `work` (a future producing an [`Outcome`], or any
    /// [`Work`]): asks for a permit now; see [`Guarded`]. What [`call`](Self::call), the
    /// tower layer and `#[resilient]` are made of.
    #[inline]
    pub fn guard<W: Work>(&self, work: W) -> Guarded<W::Deferred> {
        let state = match self.acquire().into_decided() {
            Ok(Ok(permit)) => State::Admitted {
                work: work.start(),
                permit: Some(permit),
            },
            Ok(Err(error)) => State::Refused { error: Some(error) },
            Err(acquire) => State::Waiting {
                acquire,
                work: Some(work.defer()),
            },
        };
        Guarded { state }
    }
}

impl<D, T, E> Future for Guarded<D>
where
    D: IntoFuture<Output = Outcome<T, E>>,
{
    type Output = Outcome<T, E>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut state = self.project().state;
        loop {
            match state.as_mut().project() {
                StateProj::Admitted { work, permit } => {
                    let outcome = ready!(work.poll(cx));
                    // Free the slot as soon as the work is done.
                    drop(permit.take());
                    return Poll::Ready(outcome);
                }
                StateProj::Waiting { acquire, work } => {
                    let permit = match ready!(Pin::new(acquire).poll(cx)) {
                        Ok(permit) => permit,
                        Err(error) => return Poll::Ready(Err(error)),
                    };
                    let work = work.take().expect("`Guarded` polled after completion");
                    state.set(State::Admitted {
                        work: work.into_future(),
                        permit: Some(permit),
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
        f.debug_struct("Guarded").field("state", &state).finish()
    }
}
