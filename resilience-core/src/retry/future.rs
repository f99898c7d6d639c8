//! [`Retrying`]: a whole call through a [`RetryPolicy`], as one future — the one place the
//! retry loop is written, generic over where its attempts come from.

use std::borrow::Borrow;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use pin_project_lite::pin_project;
use tokio::time::Instant;

use super::RetryPolicy;
use super::attempt::{Attempt, Next, RetryLoop};
use super::call::Stop;
use crate::outcome::{Judged, Outcome};
use crate::{Error, timer};

/// Where a [`Retrying`] call gets its attempts: every one but the first when it is built
/// with [`Retrying::new`] (whose closure makes the first), every one when it is built
/// with [`Retrying::unstarted`].
///
/// Every `FnMut() -> impl Future<Output = Judged<T, E>>` is one: each call of the closure
/// is one attempt. A tower layer implements it to wait for its inner service's readiness
/// and replay the request between attempts.
pub trait Attempts {
    /// One attempt: a future producing a [`Judged`] outcome.
    type Attempt: Future;

    /// Waits until another attempt can be made (a service's readiness); called before
    /// every attempt but the first, and never past the call's deadline. An error ends the
    /// call with that error (`retry_stop=not_retryable`). Ready at once by default.
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let _ = cx;
        Poll::Ready(Ok(()))
    }

    /// Whether the work can be done more than once at all (a request whose body was not
    /// kept cannot); if not, the first failure ends the call
    /// (`retry_stop=not_replayable`). `true` by default.
    fn replayable(&self) -> bool {
        true
    }

    /// The next attempt, not yet started; `None` if there is none to make (then the call
    /// ends, `retry_stop=not_replayable`; [`replayable`](Self::replayable) says so first).
    fn next_attempt(&mut self) -> Option<Self::Attempt>;
}

impl<F, A> Attempts for F
where
    F: FnMut() -> A,
    A: Future,
{
    type Attempt = A;

    #[inline]
    fn next_attempt(&mut self) -> Option<A> {
        Some(self())
    }
}

pin_project! {
    /// One call through a [`RetryPolicy`]: the first attempt, then as many more as the
    /// policy allows, each from [`Attempts`], with the backoff's delay, the readiness wait
    /// and every bound (attempts, budget, deadline, attempt timeout) between them. The
    /// output is the [`Outcome`] of the last attempt, with the retry context added to an
    /// error that can carry it (see [`RetryLoop::next`]).
    ///
    /// [`RetryPolicy::run`] and the tower retry layers are this future; `P` is the policy,
    /// owned or borrowed.
    #[must_use = "futures do nothing unless polled"]
    pub struct Retrying<P, A: Attempts> {
        run: RetryLoop<P>,
        attempts: A,
        phase: Phase,
        // The attempt in flight; between attempts its timer serves the waits.
        #[pin]
        attempt: Attempt<A::Attempt>,
    }
}

/// Where a [`Retrying`] call is.
#[derive(Clone, Copy, Debug)]
enum Phase {
    /// Made by [`Retrying::unstarted`]: started, and its first attempt made, when first
    /// polled.
    Unstarted,
    Attempting,
    /// Waiting out the backoff's delay, on the attempt's timer (armed when it began: a
    /// phase without data keeps the state a one-byte tag, cheap to match on every poll).
    Sleeping,
    /// Waiting for `Attempts::poll_ready`, no later than the call's deadline.
    Readying,
    Done,
}

impl<P: Borrow<RetryPolicy>, A: Attempts> Retrying<P, A> {
    /// Starts a call through `policy` (see [`RetryLoop::new`]) and makes its first
    /// attempt with `first` — unless the deadline has already passed, then `first` is not
    /// called; further attempts come from `attempts`.
    #[inline(always)]
    pub fn new(policy: P, mut attempts: A, first: impl FnOnce(&mut A) -> A::Attempt) -> Self {
        let mut run = RetryLoop::new(policy);
        if !attempts.replayable() {
            run.not_replayable();
        }
        Self {
            attempt: run.attempt_with(|| first(&mut attempts)),
            run,
            attempts,
            phase: Phase::Attempting,
        }
    }
}

impl<P: Borrow<RetryPolicy>, A: Attempts> Retrying<P, A> {
    /// A call not started yet: it starts, and makes its first attempt (from `attempts`)
    /// in place, when first polled, as an `async fn` would. A call made outside a
    /// deadline and awaited under it keeps to it, and the first attempt is written where
    /// it stays instead of being moved into the future. [`RetryPolicy::run`] starts its
    /// calls this way. If `attempts` has no first attempt to give, the call fails as not
    /// replayable, with no attempt made.
    #[inline(always)]
    pub fn unstarted(policy: P, attempts: A) -> Self {
        Self {
            run: RetryLoop::unstarted(policy),
            attempts,
            phase: Phase::Unstarted,
            attempt: Attempt::empty(),
        }
    }
}

impl<P, A, T, E> Future for Retrying<P, A>
where
    P: Borrow<RetryPolicy>,
    A: Attempts,
    A::Attempt: Future<Output = Judged<T, E>>,
    E: 'static,
{
    type Output = Outcome<T, E>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            match *this.phase {
                Phase::Attempting => {
                    let attempted = ready!(this.attempt.as_mut().poll(cx));
                    match this.run.next(attempted) {
                        // The finished attempt stays in place: it is dropped with this
                        // future, not now.
                        Next::Done(outcome) => return Poll::Ready(outcome),
                        Next::Retry(delay) => {
                            this.attempt.as_mut().finish();
                            *this.phase = match delay.is_zero() {
                                true => Phase::Readying,
                                false => {
                                    let until = timer::after(Instant::now(), delay);
                                    this.attempt.as_mut().timer().arm(until);
                                    Phase::Sleeping
                                }
                            };
                        }
                    }
                }
                Phase::Sleeping => {
                    ready!(this.attempt.as_mut().timer().poll_armed(cx));
                    this.attempt.as_mut().finish();
                    *this.phase = Phase::Readying;
                }
                Phase::Readying => {
                    let ready = match this.attempts.poll_ready(cx) {
                        Poll::Ready(ready) => ready,
                        Poll::Pending => {
                            // A service that stays busy must not hold the call past its
                            // deadline.
                            let Some(deadline) = this.run.deadline() else {
                                return Poll::Pending;
                            };
                            let timer = this.attempt.as_mut().timer();
                            ready!(timer.poll_at(cx, || deadline.instant()));
                            *this.phase = Phase::Done;
                            return Poll::Ready(this.run.expired());
                        }
                    };
                    if let Err(err) = ready {
                        *this.phase = Phase::Done;
                        return Poll::Ready(this.run.fail(err, Stop::NotRetryable));
                    }
                    if let Err(outcome) = make(this.run, this.attempt.as_mut(), this.attempts) {
                        *this.phase = Phase::Done;
                        return Poll::Ready(outcome);
                    }
                    *this.phase = Phase::Attempting;
                }
                Phase::Unstarted => {
                    this.run.start();
                    if !this.attempts.replayable() {
                        this.run.not_replayable();
                    }
                    if let Err(outcome) = make(this.run, this.attempt.as_mut(), this.attempts) {
                        *this.phase = Phase::Done;
                        return Poll::Ready(outcome);
                    }
                    *this.phase = Phase::Attempting;
                }
                Phase::Done => panic!("`Retrying` polled after completion"),
            }
        }
    }
}

/// Makes the next attempt in `slot`, in place; the outcome that ends the call if there is
/// none to make.
#[inline(always)]
fn make<P: Borrow<RetryPolicy>, A: Attempts, T, E>(
    run: &RetryLoop<P>,
    slot: Pin<&mut Attempt<A::Attempt>>,
    attempts: &mut A,
) -> Result<(), Outcome<T, E>> {
    match run.attempt_in(slot, || attempts.next_attempt()) {
        true => Ok(()),
        false => Err(run.not_made()),
    }
}

impl<P: Borrow<RetryPolicy>, A: Attempts> fmt::Debug for Retrying<P, A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Retrying")
            .field("attempts", &self.run.attempts())
            .finish_non_exhaustive()
    }
}
