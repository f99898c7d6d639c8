//! [`Hedging`]: one call through a [`Hedge`], as one future — the one place hedging is
//! written; the tower layers and `#[resilient]` run it.

use std::borrow::Borrow;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use pin_project_lite::pin_project;
use tokio::time::Instant;

use super::Hedge;
use crate::error::enrich;
use crate::outcome::Judged;
use crate::retry::Attempts;
use crate::timer::{self, LazyTimer};
use crate::{Class, Deadline, Error, ErrorKind, Primitive};

/// A hedge in flight: boxed, so that a call that never hedges allocates nothing.
struct Sent<F> {
    attempt: Pin<Box<F>>,
    started: Instant,
}

pin_project! {
    /// One call through a [`Hedge`]: the first attempt, then, while the call is
    /// undecided, a hedge after each delay (up to `max_hedges`, each from [`Attempts`],
    /// after its readiness, within the budget and the deadline). The output is the
    /// deciding attempt's [`Judged`] outcome; see the
    /// [module docs](super#what-happens-in-a-call) for which attempt decides.
    ///
    /// [`Hedge::run`], the tower layers and `#[resilient(hedge(...))]` are this future;
    /// `P` is the policy, owned or borrowed. Dropping it drops every attempt.
    #[must_use = "futures do nothing unless polled"]
    #[project = Proj]
    pub struct Hedging<P, A: Attempts> {
        hedge: P,
        attempts: A,
        #[pin]
        first: Option<A::Attempt>,
        hedges: Vec<Sent<A::Attempt>>,
        // Serves the delays and the deadline.
        #[pin]
        timer: LazyTimer,
        // The instant the timer is armed for, if it is.
        armed: Option<Instant>,
        // When the first attempt started to wait; `None` until it has.
        started: Option<Instant>,
        // When the next hedge is due; `None` when none will be sent.
        next: Option<Instant>,
        // A hedge is due, waiting for the service to be ready.
        due: bool,
        deadline: Option<Deadline>,
        sent: u32,
        // The last transient failure, set aside while other attempts run.
        failed: Option<<A::Attempt as Future>::Output>,
    }
}

impl<P: Borrow<Hedge>, A: Attempts> Hedging<P, A> {
    /// Starts a call through `hedge`: deposits in its budget, reads the ambient deadline
    /// and makes the first attempt with `first` — unless the deadline has already
    /// passed, then `first` is not called and the call fails with `DeadlineExceeded`.
    /// Hedges come from `attempts`.
    #[inline(always)]
    pub fn new<T, E>(hedge: P, mut attempts: A, first: impl FnOnce(&mut A) -> A::Attempt) -> Self
    where
        A::Attempt: Future<Output = Judged<T, E>>,
    {
        hedge.borrow().start();
        let deadline = Deadline::current();
        let (first, failed) = match deadline {
            Some(d) if d.is_expired() => {
                (None, Some(Judged::error(expired(hedge.borrow(), false))))
            }
            _ => (Some(first(&mut attempts)), None),
        };
        Self {
            hedge,
            attempts,
            first,
            hedges: Vec::new(),
            timer: LazyTimer::new(),
            armed: None,
            started: None,
            next: None,
            due: false,
            deadline,
            sent: 0,
            failed,
        }
    }
}

/// `DeadlineExceeded` for a call of `hedge`: a rejection unless attempts were running.
#[cold]
fn expired(hedge: &Hedge, during_call: bool) -> Error {
    let err = Error::new(ErrorKind::DeadlineExceeded)
        .with_primitive(Primitive::Hedge)
        .with_instance(hedge.name().clone());
    if during_call { err.during_call() } else { err }
}

impl<P, A, T, E> Future for Hedging<P, A>
where
    P: Borrow<Hedge>,
    A: Attempts,
    A::Attempt: Future<Output = Judged<T, E>>,
    E: 'static,
{
    type Output = Judged<T, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            // The attempts in flight: the first decides, or a hedge does.
            if let Some(first) = this.first.as_mut().as_pin_mut()
                && let Poll::Ready(judged) = first.poll(cx)
            {
                this.first.set(None);
                this.hedge().observe(*this.started);
                if decides(&judged) {
                    return Poll::Ready(this.finish(judged, false));
                }
                *this.failed = Some(judged);
            }
            let mut i = 0;
            while i < this.hedges.len() {
                let Poll::Ready(judged) = this.hedges[i].attempt.as_mut().poll(cx) else {
                    i += 1;
                    continue;
                };
                let done = this.hedges.swap_remove(i);
                this.hedge().observe(Some(done.started));
                if decides(&judged) {
                    return Poll::Ready(this.finish(judged, true));
                }
                *this.failed = Some(judged);
            }
            if this.first.is_none() && this.hedges.is_empty() {
                let failed = this
                    .failed
                    .take()
                    .expect("`Hedging` polled after completion");
                return Poll::Ready(this.finish(failed, false));
            }

            // Still undecided: the schedule starts with the first wait.
            if this.started.is_none() {
                let now = Instant::now();
                *this.started = Some(now);
                if this.attempts.replayable() {
                    *this.next = this.due_after(now);
                }
            }
            if *this.due {
                match this.attempts.poll_ready(cx) {
                    Poll::Pending => {}
                    Poll::Ready(ready) => {
                        *this.due = false;
                        let sent = *this.sent;
                        if ready.is_ok() && this.hedge().withdraw(sent) {
                            if let Some(attempt) = this.attempts.next_attempt() {
                                let now = Instant::now();
                                this.hedges.push(Sent {
                                    attempt: Box::pin(attempt),
                                    started: now,
                                });
                                *this.sent += 1;
                                let elapsed = this.started.map(|s| now - s);
                                this.hedge().sent(*this.sent, elapsed);
                                if *this.sent < this.hedge().max_hedges() {
                                    *this.next = this.due_after(now);
                                }
                                // Poll the new hedge at once.
                                continue;
                            }
                        }
                        // Not ready (a broken service), refused by the budget, or nothing
                        // to send: no more hedges; the attempts in flight go on.
                    }
                }
            }

            // Wait for the next hedge (unless one waits for readiness) or the deadline.
            let next = if *this.due { None } else { *this.next };
            let wake = match (next, this.deadline.map(Deadline::instant)) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            let Some(wake) = wake else {
                return Poll::Pending;
            };
            if *this.armed != Some(wake) {
                this.timer.as_mut().disarm();
                *this.armed = Some(wake);
            }
            ready!(this.timer.as_mut().poll_at(cx, || wake));
            this.timer.as_mut().disarm();
            *this.armed = None;
            let now = Instant::now();
            if this.deadline.is_some_and(|d| now >= d.instant()) {
                let err = expired(this.hedge(), true);
                return Poll::Ready(this.finish(Judged::error(err), false));
            }
            if this.next.is_some_and(|at| at <= now) {
                *this.next = None;
                *this.due = true;
            }
        }
    }
}

/// Whether an attempt's outcome decides the call: anything but a transient failure.
#[inline]
fn decides<T, E>(judged: &Judged<T, E>) -> bool {
    !matches!(judged.class, Class::Transient { .. })
}

impl<P: Borrow<Hedge>, A: Attempts> Proj<'_, P, A> {
    fn hedge(&self) -> &Hedge {
        (*self.hedge).borrow()
    }

    /// When a hedge is due if the last attempt started at `now`: after the delay, if one
    /// is known and it ends before the deadline.
    fn due_after(&self, now: Instant) -> Option<Instant> {
        let delay = self.hedge().delay_at(now)?;
        let at = timer::after(now, delay);
        match *self.deadline {
            Some(d) if at >= d.instant() => None,
            _ => Some(at),
        }
    }

    /// Ends the call with `judged`: drops every other attempt (recording how long the
    /// dropped ones had run), counts a hedge's win, and says how many hedges were sent
    /// on an error.
    fn finish<T, E: 'static>(&mut self, mut judged: Judged<T, E>, by_hedge: bool) -> Judged<T, E> {
        if self.first.is_some() || !self.hedges.is_empty() {
            let hedge = self.hedge();
            if hedge.observes() {
                // A dropped attempt took at least this long: a lower bound keeps the slow
                // ones in the window.
                if self.first.is_some() {
                    hedge.observe(*self.started);
                }
                for dropped in self.hedges.iter() {
                    hedge.observe(Some(dropped.started));
                }
            }
            self.first.as_mut().set(None);
            self.hedges.clear();
        }
        if self.armed.take().is_some() {
            self.timer.as_mut().disarm();
        }
        if by_hedge {
            self.hedge().won();
        }
        let sent = *self.sent;
        if sent > 0 {
            match &mut judged.outcome {
                Ok(Ok(_)) => {}
                Ok(Err(err)) => enrich(err, |err| err.with_field("hedges", sent)),
                Err(err) => {
                    let taken = std::mem::replace(err, Error::new(ErrorKind::Inner));
                    *err = taken.with_field("hedges", sent);
                }
            }
        }
        judged
    }
}

impl<P: Borrow<Hedge>, A: Attempts> fmt::Debug for Hedging<P, A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hedging")
            .field("hedge", self.hedge.borrow())
            .field(
                "in_flight",
                &(usize::from(self.first.is_some()) + self.hedges.len()),
            )
            .field("sent", &self.sent)
            .finish_non_exhaustive()
    }
}
