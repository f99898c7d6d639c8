//! [`Acquire`]: the future of [`Bulkhead::acquire`], and the waiting path behind it.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::time::Instant;

use super::{Bulkhead, Permit};
use crate::Error;

type Waiting = Pin<Box<dyn Future<Output = Result<Permit, Error>> + Send + Sync>>;

/// The future returned by [`Bulkhead::acquire`]: resolves to a [`Permit`] or to the error
/// that refused one.
///
/// When a slot is free (or the bulkhead refuses at once), the outcome is decided inside
/// `acquire` and this future is ready on its first poll without allocating. Only a
/// caller that must wait gets a boxed waiting future (one allocation, on the slow path).
///
/// Dropping it while it waits leaves the queue; dropping it after it was decided releases
/// the permit it holds. Either way no slot leaks.
#[must_use = "futures do nothing unless polled; dropping this releases its place"]
pub struct Acquire {
    state: State,
}

enum State {
    Decided(Option<Result<Permit, Error>>),
    Waiting(Waiting),
}

impl Acquire {
    pub(super) fn decided(outcome: Result<Permit, Error>) -> Self {
        Self {
            state: State::Decided(Some(outcome)),
        }
    }

    pub(super) fn waiting(future: Waiting) -> Self {
        Self {
            state: State::Waiting(future),
        }
    }

    /// The outcome, if it was decided without waiting; otherwise the future itself, to be
    /// awaited. Like `FutureExt::now_or_never`, but the waiting future is not lost:
    /// [`Bulkhead::guard`] uses it to start its work at once on the fast path.
    pub(crate) fn into_decided(self) -> Result<Result<Permit, Error>, Self> {
        match self.state {
            State::Decided(Some(outcome)) => Ok(outcome),
            state => Err(Self { state }),
        }
    }

    /// Whether the caller is (or was) queued for a permit.
    pub fn is_waiting(&self) -> bool {
        matches!(self.state, State::Waiting(_))
    }
}

impl Future for Acquire {
    type Output = Result<Permit, Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match &mut self.state {
            State::Decided(outcome) => match outcome.take() {
                Some(outcome) => Poll::Ready(outcome),
                None => panic!("`Acquire` polled after completion"),
            },
            State::Waiting(future) => future.as_mut().poll(cx),
        }
    }
}

impl fmt::Debug for Acquire {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.state {
            State::Decided(Some(Ok(_))) => "admitted",
            State::Decided(Some(Err(_))) => "rejected",
            State::Decided(None) => "done",
            State::Waiting(_) => "waiting",
        };
        f.debug_struct("Acquire").field("state", &state).finish()
    }
}

/// Waits (the caller is already counted as waiting, since `started`) until a slot is
/// handed over or `until` passes. `by_deadline`: `until` is the ambient deadline, not
/// `max_wait`.
///
/// The waiting future is polled once here, with a no-op waker, so that the caller takes
/// its place in the hand-off semaphore's FIFO queue *now*: the queue order is the order of
/// `acquire` calls, not the order in which the callers' futures happen to be first polled
/// (a tower layer calls `acquire` in `call` and awaits it later, in its response future).
/// The timer is only created on the caller's own first poll, so that no runtime is needed
/// here.
pub(super) fn wait(
    bulkhead: Bulkhead,
    started: Instant,
    until: Instant,
    by_deadline: bool,
) -> Acquire {
    // The ticket exists from the moment the caller is counted as waiting, so a future
    // dropped before its first poll leaves the queue too.
    let ticket = Ticket {
        bulkhead,
        queued: true,
    };
    let mut future: Waiting = Box::pin(async move {
        // Locals drop in reverse order: on cancellation the semaphore future below goes
        // first (returning any hand-off it was given), then the ticket leaves the queue.
        let mut ticket = ticket;
        let admitted = {
            let mut handoff = std::pin::pin!(ticket.bulkhead.shared.slots.handoff.acquire());
            let mut sleep = std::pin::pin!(None::<tokio::time::Sleep>);
            let mut registered = false;
            std::future::poll_fn(|cx| {
                if let Poll::Ready(outcome) = handoff.as_mut().poll(cx) {
                    // The semaphore is never closed, so `Err` cannot happen; if it did,
                    // the waiter would give up like a timed-out one.
                    let claimed = outcome.map(|permit| {
                        // The slot is already counted in flight; the permit only
                        // carried it here.
                        permit.forget();
                    });
                    return Poll::Ready(claimed.is_ok());
                }
                if !std::mem::replace(&mut registered, true) {
                    // The poll from `wait` itself: the place in the queue is taken.
                    return Poll::Pending;
                }
                if sleep.is_none() {
                    sleep.set(Some(tokio::time::sleep_until(until)));
                }
                match sleep.as_mut().as_pin_mut() {
                    Some(sleep) => sleep.poll(cx).map(|()| false),
                    None => Poll::Pending,
                }
            })
            .await
        };
        let waited = started.elapsed();
        let bulkhead = &ticket.bulkhead;
        bulkhead.shared.telemetry.wait.record(waited.as_secs_f64());
        if admitted {
            ticket.queued = false;
            return Ok(Permit::new(ticket.bulkhead.clone()));
        }
        ticket.leave();
        Err(if by_deadline {
            ticket.bulkhead.deadline_error(waited)
        } else {
            ticket.bulkhead.timed_out_error(waited)
        })
    });
    match future
        .as_mut()
        .poll(&mut Context::from_waker(std::task::Waker::noop()))
    {
        // A slot was handed over in the meantime.
        Poll::Ready(outcome) => Acquire::decided(outcome),
        Poll::Pending => Acquire::waiting(future),
    }
}

/// A caller's place in the queue: leaves it on drop unless it was admitted.
struct Ticket {
    bulkhead: Bulkhead,
    queued: bool,
}

impl Ticket {
    fn leave(&mut self) {
        if std::mem::take(&mut self.queued) {
            self.bulkhead.shared.slots.leave();
        }
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        self.leave();
    }
}
