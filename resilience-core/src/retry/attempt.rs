//! [`RetryLoop`]: one call through a [`RetryPolicy`], driven attempt by attempt — the
//! policy's whole work but the sleeping and the readiness wait, which its callers add.

use std::borrow::Borrow;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use pin_project_lite::pin_project;
use tokio::time::Instant;

use super::RetryPolicy;
use super::call::{AttemptLimit, Decision, Observation, RetryCall, Stop};
use crate::Error;
use crate::error::enrich;
use crate::outcome::{Judged, Outcome};
use crate::timer::{self, LazyTimer};

/// One call through a [`RetryPolicy`], as a loop you write yourself: make each attempt
/// with [`attempt`](Self::attempt), hand what it gave to [`next`](Self::next), and sleep
/// the delay it asks for.
///
/// ```
/// use std::time::Duration;
/// use resilience_core::classify::TransientErrors;
/// use resilience_core::outcome::{self, Outcome};
/// use resilience_core::retry::{Backoff, Next, RetryPolicy};
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
/// let policy = RetryPolicy::builder()
///     .backoff(Backoff::constant(Duration::from_millis(10)))
///     .build()
///     .unwrap();
/// // An operation that borrows mutable state, which a closure-based retry cannot repeat.
/// let mut failures_left = 2;
/// let mut retry = policy.retry_loop();
/// let outcome: Outcome<&str, std::io::Error> = loop {
///     let attempt = outcome::judge(&TransientErrors, outcome::lift(async {
///         if failures_left > 0 {
///             failures_left -= 1;
///             return Err(std::io::Error::other("reset"));
///         }
///         Ok("done")
///     }));
///     let attempted = retry.attempt(attempt).await;
///     match retry.next(attempted) {
///         Next::Done(outcome) => break outcome,
///         Next::Retry(delay) => tokio::time::sleep(delay).await,
///     }
/// };
/// assert_eq!(outcome.unwrap().unwrap(), "done");
/// assert_eq!(retry.attempts(), 3);
/// # }
/// ```
///
/// This is the loop [`Retrying`](super::Retrying) (and so [`RetryPolicy::run`] and the
/// tower layers) runs, for code that cannot hand its attempts over as a closure: an
/// attempt that borrows the caller mutably (`#[resilient]` on a `&mut self` method) can
/// only be written in the loop that awaits it.
#[derive(Debug)]
pub struct RetryLoop<P = RetryPolicy> {
    policy: P,
    call: RetryCall,
}

impl<P: Borrow<RetryPolicy>> RetryLoop<P> {
    /// Starts a call: deposits in the budget and reads the ambient deadline (and the clock
    /// only if `max_elapsed` is set).
    #[inline]
    pub fn new(policy: P) -> Self {
        let call = policy.borrow().start();
        Self { policy, call }
    }

    /// Attempts made so far.
    pub fn attempts(&self) -> u32 {
        self.call.attempts()
    }

    /// Marks the call as one that cannot be repeated (a request whose body was not kept):
    /// its first failure is final (`retry_stop=not_replayable`).
    pub(crate) fn not_replayable(&mut self) {
        self.call.set_replayable(false);
    }

    /// The call's deadline: the ambient one, or `max_elapsed` from the start.
    pub(crate) fn deadline(&self) -> Option<crate::Deadline> {
        self.call.deadline()
    }

    /// Makes an attempt: `attempt` (a future producing a [`Judged`] outcome), cut off by
    /// the policy's `attempt_timeout` or by the call's deadline, whichever comes first —
    /// or not made at all (`attempt` dropped unpolled) if the deadline has passed. Reads
    /// the clock only under a deadline; the timer is armed only if the attempt has to wait.
    #[inline]
    pub fn attempt<F>(&self, attempt: F) -> Attempt<F> {
        match self.try_attempt(|| Some(attempt)) {
            Some(attempt) => attempt,
            None => unreachable!("the attempt was given"),
        }
    }

    /// [`attempt`](Self::attempt), asking `make` for the attempt only if it is made;
    /// `None` if `make` has none to give.
    #[inline]
    pub(crate) fn try_attempt<F>(&self, make: impl FnOnce() -> Option<F>) -> Option<Attempt<F>> {
        let limit = self.policy.borrow().attempt_limit(&self.call);
        let state = match limit {
            AttemptLimit::Unbounded => AttemptState::Unbounded { attempt: make()? },
            AttemptLimit::Within {
                timeout,
                by_deadline,
            } => AttemptState::Within {
                attempt: make()?,
                bound: match self.call.deadline() {
                    Some(deadline) if by_deadline => Bound::At(deadline.instant()),
                    _ => Bound::After(timeout),
                },
                limit,
                timer: LazyTimer::new(),
            },
            AttemptLimit::Expired => AttemptState::Expired { limit },
        };
        Some(Attempt { state })
    }

    /// Decides on what an attempt gave: [`Next::Retry`] after a delay, or
    /// [`Next::Done`] with the outcome to return. The rule is in the
    /// [module docs](super#what-is-retried).
    ///
    /// A call that stops on an error says why: a primitive's error, or an operation's
    /// error that is (or boxes) an [`Error`], gets the attempts made, the time spent and
    /// the field `retry_stop` (and becomes `RetryBudgetExhausted` when the budget refused
    /// the retry); any other operation error comes back unchanged.
    #[inline]
    pub fn next<T, E: 'static>(&mut self, attempted: Attempted<T, E>) -> Next<T, E> {
        let judged = match attempted.0 {
            Ok(judged) => judged,
            Err(limit) => Judged::error(self.policy.borrow().limit_error(limit)),
        };
        let observed = match &judged.outcome {
            Ok(result) => Observation::of(judged.class, result),
            Err(err) => Observation::of_error(err),
        };
        let stop = match self.policy.borrow().decide(&mut self.call, observed) {
            Decision::Retry { delay } => return Next::Retry(delay),
            Decision::Return => match judged.outcome {
                Ok(Ok(value)) => return Next::Done(Ok(Ok(value))),
                // An error its classifier called a success: returned, still with context.
                _ => Stop::NotRetryable,
            },
            Decision::Stop(stop) => stop,
        };
        Next::Done(self.stop(judged.outcome, stop))
    }

    /// The outcome of a call that stopped with `outcome`, for `stop`.
    pub(crate) fn stop<T, E: 'static>(&self, outcome: Outcome<T, E>, stop: Stop) -> Outcome<T, E> {
        let policy = self.policy.borrow();
        match outcome {
            Ok(Err(mut err)) => {
                enrich(&mut err, |last| policy.finish(&self.call, last, stop));
                Ok(Err(err))
            }
            Err(err) => Err(policy.finish(&self.call, err, stop)),
            ok => ok,
        }
    }

    /// The error that ends a call whose next attempt could not be made: `err`, stopped by
    /// `stop`.
    pub(crate) fn fail<T, E>(&self, err: Error, stop: Stop) -> Outcome<T, E> {
        Err(self.policy.borrow().finish(&self.call, err, stop))
    }

    /// The error of a call whose deadline passed before its next attempt could be made.
    pub(crate) fn expired<T, E>(&self) -> Outcome<T, E> {
        let err = self.policy.borrow().limit_error(AttemptLimit::Expired);
        self.fail(err, Stop::Deadline)
    }
}

/// What the loop does after an attempt; see [`RetryLoop::next`].
#[derive(Debug)]
pub enum Next<T, E> {
    /// The call is over: return this outcome.
    Done(Outcome<T, E>),
    /// Wait this long, then make another attempt.
    Retry(Duration),
}

/// What an attempt gave: its [`Judged`] outcome, or that the time limit cut it off. Hand
/// it to [`RetryLoop::next`].
#[derive(Debug)]
pub struct Attempted<T, E>(Result<Judged<T, E>, AttemptLimit>);

/// The limit a bounded attempt's timer is armed at.
#[derive(Clone, Copy, Debug)]
enum Bound {
    /// The call's deadline.
    At(Instant),
    /// The attempt timeout, counted from the attempt's first wait.
    After(Duration),
}

pin_project! {
    /// The future of [`RetryLoop::attempt`].
    #[must_use = "futures do nothing unless polled"]
    #[derive(Debug)]
    pub struct Attempt<F> {
        #[pin]
        state: AttemptState<F>,
    }
}

pin_project! {
    #[project = AttemptProj]
    #[derive(Debug)]
    enum AttemptState<F> {
        Unbounded { #[pin] attempt: F },
        Within {
            #[pin]
            attempt: F,
            bound: Bound,
            limit: AttemptLimit,
            #[pin]
            timer: LazyTimer,
        },
        Expired { limit: AttemptLimit },
    }
}

impl<F, T, E> Future for Attempt<F>
where
    F: Future<Output = Judged<T, E>>,
{
    type Output = Attempted<T, E>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            AttemptProj::Unbounded { attempt } => attempt.poll(cx).map(|j| Attempted(Ok(j))),
            AttemptProj::Within {
                attempt,
                bound,
                limit,
                timer,
            } => {
                if let Poll::Ready(judged) = attempt.poll(cx) {
                    return Poll::Ready(Attempted(Ok(judged)));
                }
                let bound = *bound;
                ready!(timer.poll_at(cx, || match bound {
                    Bound::At(at) => at,
                    Bound::After(timeout) => timer::after(Instant::now(), timeout),
                }));
                Poll::Ready(Attempted(Err(*limit)))
            }
            AttemptProj::Expired { limit } => Poll::Ready(Attempted(Err(*limit))),
        }
    }
}
