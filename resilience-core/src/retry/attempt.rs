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
/// [`Retrying`](super::Retrying) — and so [`RetryPolicy::run`] and the tower layers — is
/// this loop as one future. Write the loop yourself when the attempts cannot be handed
/// over as a closure: an attempt that borrows the caller mutably (as `#[resilient]` on a
/// `&mut self` method does) can only live in the loop that awaits it.
#[derive(Debug)]
pub struct RetryLoop<P = RetryPolicy> {
    policy: P,
    call: RetryCall,
}

impl<P: Borrow<RetryPolicy>> RetryLoop<P> {
    /// Starts a call: deposits in the budget and reads the ambient deadline (and the clock
    /// only if `max_elapsed` is set).
    #[inline(always)]
    pub fn new(policy: P) -> Self {
        let call = policy.borrow().start();
        Self { policy, call }
    }

    /// A call not started yet: [`start`](Self::start) it before its first attempt.
    pub(crate) const fn unstarted(policy: P) -> Self {
        Self {
            policy,
            call: RetryCall::unstarted(),
        }
    }

    /// Starts a call made [`unstarted`](Self::unstarted), in place.
    #[inline]
    pub(crate) fn start(&mut self) {
        self.call = self.policy.borrow().start();
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
        self.attempt_with(|| attempt)
    }

    /// [`attempt`](Self::attempt), making the attempt with `make` only if it is made.
    #[inline(always)]
    pub(crate) fn attempt_with<F>(&self, make: impl FnOnce() -> F) -> Attempt<F> {
        let limit = self.policy.borrow().attempt_limit(&self.call);
        let bound = Bound::of(limit, self.call.deadline());
        // One layout for every limit, and nothing computed after the attempt is made, so
        // that it is made where it will stay.
        Attempt {
            attempt: match limit {
                AttemptLimit::Expired => None,
                _ => Some(make()),
            },
            bound,
            limit,
            timer: LazyTimer::new(),
        }
    }

    /// Makes the next attempt in `slot` (a finished one, see [`Attempt::finish`]), in
    /// place, asking `make` for it only if it is made; `false` if `make` has none to give.
    #[inline]
    pub(crate) fn attempt_in<F>(
        &self,
        slot: Pin<&mut Attempt<F>>,
        make: impl FnOnce() -> Option<F>,
    ) -> bool {
        let limit = self.policy.borrow().attempt_limit(&self.call);
        let mut slot = slot.project();
        *slot.limit = limit;
        *slot.bound = Bound::of(limit, self.call.deadline());
        if let AttemptLimit::Expired = limit {
            return true;
        }
        match make() {
            Some(attempt) => {
                slot.attempt.set(Some(attempt));
                true
            }
            None => false,
        }
    }

    /// Decides on what an attempt gave: [`Next::Retry`] after a delay, or
    /// [`Next::Done`] with the outcome to return. The rule is in the
    /// [module docs](super#what-is-retried).
    ///
    /// A call that stops on an error says why: a primitive's error, or an operation's
    /// error that is (or boxes) an [`Error`], gets the attempts made, the time spent and
    /// the field `retry_stop` (and becomes `RetryBudgetExhausted` when the budget refused
    /// the retry); any other operation error comes back unchanged.
    #[inline(always)]
    pub fn next<T, E: 'static>(&mut self, attempted: Attempted<T, E>) -> Next<T, E> {
        let judged = match attempted.0 {
            Ok(judged) => judged,
            Err(limit) => return self.next_cut_off(limit),
        };
        // Decided on a borrow, so that the outcome moves once, into the answer.
        let observed = match &judged.outcome {
            Ok(result) => Observation::of(judged.class, result),
            Err(err) => Observation::of_error(err),
        };
        match self.policy.borrow().decide(&mut self.call, observed) {
            Decision::Retry { delay } => Next::Retry(delay),
            Decision::Return if matches!(judged.outcome, Ok(Ok(_))) => Next::Done(judged.outcome),
            // An error its classifier called a success: returned, still with context.
            Decision::Return => Next::Done(self.stop(judged.outcome, Stop::NotRetryable)),
            // The hint was too long to wait for: the error carries it to the caller, also
            // when the classifier gave it rather than the error itself.
            Decision::Stop(stop @ Stop::RetryAfterTooLong) => {
                let hint = judged.class.retry_after();
                Next::Done(self.stop_hinted(judged.outcome, stop, hint))
            }
            Decision::Stop(stop) => Next::Done(self.stop(judged.outcome, stop)),
        }
    }

    /// [`next`](Self::next) for an attempt its time limit cut off (or that was not made).
    #[cold]
    #[inline(never)]
    fn next_cut_off<T, E: 'static>(&mut self, limit: AttemptLimit) -> Next<T, E> {
        if let AttemptLimit::Expired = limit {
            // Never made (the deadline had passed when its turn came, e.g. a backoff
            // timer that fired on the deadline's millisecond): not counted as an attempt.
            return Next::Done(self.expired());
        }
        let err = self.policy.borrow().limit_error(limit);
        self.next(Attempted(Ok(Judged::error(err))))
    }

    /// The outcome of a call that stopped with `outcome`, for `stop`.
    #[cold]
    #[inline(never)]
    pub(crate) fn stop<T, E: 'static>(&self, outcome: Outcome<T, E>, stop: Stop) -> Outcome<T, E> {
        self.stop_hinted(outcome, stop, None)
    }

    /// [`stop`](Self::stop), giving the error `hint` as its `retry_after` when it has none.
    #[cold]
    #[inline(never)]
    fn stop_hinted<T, E: 'static>(
        &self,
        outcome: Outcome<T, E>,
        stop: Stop,
        hint: Option<Duration>,
    ) -> Outcome<T, E> {
        let policy = self.policy.borrow();
        let finish = |last: Error| {
            let err = policy.finish(&self.call, last, stop);
            match hint {
                Some(hint) if err.retry_after().is_none() => err.with_retry_after(hint),
                _ => err,
            }
        };
        match outcome {
            Ok(Err(mut err)) => {
                enrich(&mut err, finish);
                Ok(Err(err))
            }
            Err(err) => Err(finish(err)),
            ok => ok,
        }
    }

    /// The error that ends a call whose next attempt could not be made: `err`, stopped by
    /// `stop`.
    pub(crate) fn fail<T, E>(&self, err: Error, stop: Stop) -> Outcome<T, E> {
        Err(self.policy.borrow().finish(&self.call, err, stop))
    }

    /// The error of a call whose next attempt could not be made: the work cannot be sent
    /// again (not reached when [`Attempts::replayable`](super::Attempts::replayable) says
    /// so first).
    #[cold]
    pub(crate) fn not_made<T, E>(&self) -> Outcome<T, E> {
        let err = Error::new(crate::ErrorKind::InvalidRequest)
            .with_primitive(crate::Primitive::Retry)
            .with_detail("the request cannot be sent again");
        self.fail(err, Stop::NotReplayable)
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
    /// No limit.
    None,
    /// The call's deadline.
    At(Instant),
    /// The attempt timeout, counted from the attempt's first wait.
    After(Duration),
}

impl Bound {
    #[inline]
    fn of(limit: AttemptLimit, deadline: Option<crate::Deadline>) -> Self {
        match (limit, deadline) {
            (AttemptLimit::ByDeadline, Some(d)) => Bound::At(d.instant()),
            (AttemptLimit::Within(timeout), _) => Bound::After(timeout),
            _ => Bound::None,
        }
    }

    fn instant(self) -> Instant {
        match self {
            Bound::At(at) => at,
            Bound::After(timeout) => timer::after(Instant::now(), timeout),
            Bound::None => timer::after(Instant::now(), Duration::MAX),
        }
    }
}

pin_project! {
    /// The future of [`RetryLoop::attempt`].
    #[must_use = "futures do nothing unless polled"]
    #[derive(Debug)]
    pub struct Attempt<F> {
        // `None`: not made (the deadline had passed), or over (`Retrying` between
        // attempts).
        #[pin]
        attempt: Option<F>,
        bound: Bound,
        limit: AttemptLimit,
        #[pin]
        timer: LazyTimer,
    }
}

impl<F> Attempt<F> {
    /// No attempt yet: a slot for [`RetryLoop::attempt_in`].
    pub(crate) const fn empty() -> Self {
        Self {
            attempt: None,
            bound: Bound::None,
            limit: AttemptLimit::Unbounded,
            timer: LazyTimer::new(),
        }
    }

    /// Drops the attempt in place and disarms its timer, which then serves
    /// [`Retrying`](super::Retrying)'s waits until the next attempt.
    pub(crate) fn finish(self: Pin<&mut Self>) {
        let mut this = self.project();
        this.attempt.set(None);
        this.timer.as_mut().disarm();
    }

    /// The timer, for [`Retrying`](super::Retrying)'s waits once the attempt is over.
    pub(crate) fn timer(self: Pin<&mut Self>) -> Pin<&mut LazyTimer> {
        self.project().timer
    }
}

impl<F, T, E> Future for Attempt<F>
where
    F: Future<Output = Judged<T, E>>,
{
    type Output = Attempted<T, E>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let Some(attempt) = this.attempt.as_pin_mut() else {
            return Poll::Ready(Attempted(Err(*this.limit)));
        };
        if let Poll::Ready(judged) = attempt.poll(cx) {
            return Poll::Ready(Attempted(Ok(judged)));
        }
        let bound = *this.bound;
        if let Bound::None = bound {
            return Poll::Pending;
        }
        ready!(this.timer.poll_at(cx, || bound.instant()));
        Poll::Ready(Attempted(Err(*this.limit)))
    }
}
