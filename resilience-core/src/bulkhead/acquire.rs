//! [`Acquire`]: the future of [`Bulkhead::acquire`], and the waiting path behind it.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;
use tokio::time::Instant;

use super::state::Slots;
use super::{Bulkhead, Permit};
use crate::Error;

type Waiting = Pin<Box<dyn Future<Output = Result<Permit, Error>> + Send>>;

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
    /// awaited. Like `FutureExt::now_or_never`, but the waiting future is not lost: the
    /// tower layer uses it to call its inner service at once on the fast path.
    pub fn into_decided(self) -> Result<Result<Permit, Error>, Self> {
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

/// Waits (the caller is already counted as waiting) until a slot is handed over or
/// `until` passes. `by_deadline`: `until` is the ambient deadline, not `max_wait`.
pub(super) fn wait(bulkhead: Bulkhead, until: Instant, by_deadline: bool) -> Acquire {
    Acquire::waiting(Box::pin(async move {
        let started = Instant::now();
        let admitted = {
            let slots = &bulkhead.shared.slots;
            let mut queued = std::pin::pin!(Queued {
                slots,
                acquire: Some(slots.handoff.acquire()),
                claimed: false,
            });
            let mut sleep = std::pin::pin!(tokio::time::sleep_until(until));
            std::future::poll_fn(|cx| {
                if queued.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(queued.claimed);
                }
                sleep.as_mut().poll(cx).map(|()| false)
            })
            .await
        };
        let waited = started.elapsed();
        bulkhead.shared.telemetry.wait.record(waited.as_secs_f64());
        if admitted {
            Ok(Permit::new(bulkhead))
        } else if by_deadline {
            Err(bulkhead.deadline_error(waited))
        } else {
            Err(bulkhead.timed_out_error(waited))
        }
    }))
}

pin_project! {
    /// A place in the hand-off queue. Dropped before it claimed a slot (the wait timed
    /// out, or the caller's future was dropped), it leaves the queue without leaking one.
    struct Queued<'a, F> {
        slots: &'a Slots,
        #[pin]
        acquire: Option<F>,
        claimed: bool,
    }

    impl<'a, F> PinnedDrop for Queued<'a, F> {
        fn drop(this: Pin<&mut Self>) {
            let mut this = this.project();
            // Return a hand-off this waiter may have been given to the semaphore first,
            // so `leave` can find the surplus permit.
            this.acquire.set(None);
            if !*this.claimed {
                this.slots.leave();
            }
        }
    }
}

impl<'a, F, E> Future for Queued<'a, F>
where
    F: Future<Output = Result<tokio::sync::SemaphorePermit<'a>, E>>,
{
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut this = self.project();
        let Some(acquire) = this.acquire.as_mut().as_pin_mut() else {
            return Poll::Ready(());
        };
        match acquire.poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(outcome) => {
                // The semaphore is never closed, so `Err` cannot happen; if it did, the
                // waiter would give up like a timed-out one.
                if let Ok(permit) = outcome {
                    // The slot is already counted in flight; the permit only carried it.
                    permit.forget();
                    *this.claimed = true;
                }
                this.acquire.set(None);
                Poll::Ready(())
            }
        }
    }
}
