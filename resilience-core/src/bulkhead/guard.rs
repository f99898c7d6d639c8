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

/// A bulkhead's answer to a caller, decided when it asks: see [`Bulkhead::admit`].
#[derive(Debug)]
#[must_use = "a permit or a place in the queue is given back when this is dropped"]
pub enum Admission {
    /// A slot was free: the work may start now, holding this permit.
    Admitted(Permit),
    /// The caller is queued: the work starts once this resolves to a permit.
    Queued(Acquire),
    /// Refused at once (`BulkheadFull`, or `DeadlineExceeded` when the deadline had
    /// passed).
    Refused(Error),
}

impl Bulkhead {
    /// Asks for a permit now, and says what came of it: admitted, queued (in FIFO order,
    /// from this call on) or refused. For code that acts differently on each — a tower
    /// service calls its inner service in place when admitted, and keeps the request
    /// until a permit is handed over when queued — and builds the matching [`Guarded`];
    /// [`guard`](Self::guard) does all of it for a future.
    #[inline]
    pub fn admit(&self) -> Admission {
        match self.acquire().into_decided() {
            Ok(Ok(permit)) => Admission::Admitted(permit),
            Ok(Err(error)) => Admission::Refused(error),
            Err(acquire) => Admission::Queued(acquire),
        }
    }

    /// The bulkhead's work around `work`, a future producing an [`Outcome`]: asks for a
    /// permit now; see [`Guarded`]. What [`call`](Self::call) and `#[resilient]` are made
    /// of.
    #[inline(always)]
    pub fn guard<F: Future>(&self, work: F) -> Guarded<F> {
        match self.admit() {
            Admission::Admitted(permit) => Guarded::admitted(permit, work),
            Admission::Queued(acquire) => Guarded::queued(acquire, work),
            Admission::Refused(error) => Guarded::refused(error),
        }
    }
}

pin_project! {
    /// A call holding a permit of a [`Bulkhead`]: made by [`Bulkhead::guard`] (or, from
    /// an [`Admission`], by [`admitted`](Self::admitted), [`queued`](Self::queued) and
    /// [`refused`](Self::refused)); the permit is asked for then, not when this is first
    /// polled, so a queued caller takes its place in the FIFO queue at once.
    ///
    /// `D` is the work: a future, or anything that becomes one ([`IntoFuture`]) once a
    /// permit is handed over to a queued caller.
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
    ///
    /// `O` is told when the work starts and how it ended, while the permit is still held:
    /// nothing for a fixed bulkhead (`()`, which costs nothing), a latency sample for an
    /// [adaptive](crate::adaptive) one ([`Sampler`](crate::adaptive::Sampler), set with
    /// [`with_observer`](Self::with_observer)).
    #[must_use = "futures do nothing unless polled"]
    pub struct Guarded<D: IntoFuture, O = ()> {
        #[pin]
        state: State<D>,
        observer: O,
    }
}

/// What a [`Guarded`] call reports about itself while it holds its permit: when its work
/// started and the outcome it ended with. Sealed: `()` (nothing) and
/// [`Sampler`](crate::adaptive::Sampler) (an adaptive bulkhead's latency samples).
///
/// A call whose future is dropped before its work completes reports no outcome.
pub trait Observer<T, E>: sealed::Sealed {
    /// The work starts now, holding `permit`.
    #[inline(always)]
    fn started(&mut self, permit: &Permit) {
        let _ = permit;
    }

    /// The work ended with `outcome`; `permit` is released right after.
    #[inline(always)]
    fn finished(&mut self, permit: &Permit, outcome: &Outcome<T, E>) {
        let _ = (permit, outcome);
    }
}

impl<T, E> Observer<T, E> for () {}

pub(crate) mod sealed {
    pub trait Sealed {}
    impl Sealed for () {}
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
            // Boxed: the work kept for later (a request and a service, in a tower layer)
            // is often large, and only a queued caller keeps it, while its wait is boxed
            // already; an admitted call's future stays as small as its work's.
            work: Option<Box<D>>,
        },
        Refused {
            error: Option<Error>,
        },
    }
}

impl<D: IntoFuture> Guarded<D> {
    /// Admitted with `permit`: `work` runs at once.
    #[inline(always)]
    pub fn admitted(permit: Permit, work: D::IntoFuture) -> Self {
        Self {
            state: State::Admitted {
                work,
                permit: Some(permit),
            },
            observer: (),
        }
    }

    /// Queued: `work` is kept (boxed), not started, until `acquire` hands a permit over.
    pub fn queued(acquire: Acquire, work: D) -> Self {
        Self {
            state: State::Waiting {
                acquire,
                work: Some(Box::new(work)),
            },
            observer: (),
        }
    }

    /// Refused with `error` (the work is never started).
    pub fn refused(error: Error) -> Self {
        Self {
            state: State::Refused { error: Some(error) },
            observer: (),
        }
    }

    /// The same call, reporting to `observer` (told at once if the work already started).
    #[inline(always)]
    pub fn with_observer<O, T, E>(self, mut observer: O) -> Guarded<D, O>
    where
        D: IntoFuture<Output = Outcome<T, E>>,
        O: Observer<T, E>,
    {
        if let State::Admitted {
            permit: Some(permit),
            ..
        } = &self.state
        {
            observer.started(permit);
        }
        Guarded {
            state: self.state,
            observer,
        }
    }
}

impl<D, O, T, E> Future for Guarded<D, O>
where
    D: IntoFuture<Output = Outcome<T, E>>,
    O: Observer<T, E>,
{
    type Output = Outcome<T, E>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut state = this.state;
        loop {
            match state.as_mut().project() {
                StateProj::Admitted { work, permit } => {
                    let outcome = ready!(work.poll(cx));
                    // Free the slot as soon as the work is done.
                    if let Some(permit) = permit.take() {
                        this.observer.finished(&permit, &outcome);
                    }
                    return Poll::Ready(outcome);
                }
                StateProj::Waiting { acquire, work } => {
                    let permit = match ready!(Pin::new(acquire).poll(cx)) {
                        Ok(permit) => permit,
                        Err(error) => return Poll::Ready(Err(error)),
                    };
                    let work = work.take().expect("`Guarded` polled after completion");
                    this.observer.started(&permit);
                    state.set(State::Admitted {
                        work: (*work).into_future(),
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

impl<D: IntoFuture, O> fmt::Debug for Guarded<D, O> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.state {
            State::Admitted { .. } => "admitted",
            State::Waiting { .. } => "waiting",
            State::Refused { .. } => "refused",
        };
        f.debug_struct("Guarded").field("state", &state).finish()
    }
}
