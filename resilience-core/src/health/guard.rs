//! [`Guarded`]: one request counted in flight by a [`Health`], or refused while it
//! drains. The one place where draining's work around a request is written; the tower
//! `DrainLayer` wraps this future.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use pin_project_lite::pin_project;

use super::{Health, InFlight};
use crate::Error;
use crate::outcome::Outcome;

impl Health {
    /// Draining's work around `work`, a future producing an [`Outcome`]: counted in
    /// flight from now until it completes or is dropped, or refused with
    /// [`ShuttingDown`](crate::ErrorKind::ShuttingDown) (a rejection; `work` is dropped
    /// unpolled) once draining has begun. See [`enter`](Self::enter) for the admission
    /// alone.
    ///
    /// ```
    /// use resilience_core::health::Health;
    /// use resilience_core::{ErrorKind, outcome};
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
    /// let health = Health::builder()
    ///     .shutdown_delay(std::time::Duration::ZERO)
    ///     .build()
    ///     .unwrap();
    /// let request = health.guard(outcome::lift(async { Ok::<_, std::io::Error>("served") }));
    /// assert_eq!(request.await.unwrap().unwrap(), "served");
    ///
    /// health.shutdown_signal(std::future::ready(())).await; // draining now
    /// let refused = health.guard(outcome::lift(async { Ok::<_, std::io::Error>("never") }));
    /// assert_eq!(refused.await.unwrap_err().kind(), ErrorKind::ShuttingDown);
    /// # }
    /// ```
    #[inline]
    pub fn guard<F: Future>(&self, work: F) -> Guarded<F> {
        match self.enter() {
            Ok(in_flight) => Guarded::admitted(in_flight, work),
            Err(error) => Guarded::refused(error),
        }
    }
}

pin_project! {
    /// A request counted in flight by a [`Health`]: made by [`Health::guard`] (or, from
    /// [`Health::enter`], by [`admitted`](Self::admitted) and [`refused`](Self::refused)).
    /// Admitted, the work runs and is counted out as soon as it completes (or this future
    /// is dropped), so [`Health::drain`] waits exactly for the work still running;
    /// refused, the outcome is the `ShuttingDown` rejection. The work produces an
    /// [`Outcome`]; so does this future.
    #[must_use = "futures do nothing unless polled"]
    pub struct Guarded<F> {
        #[pin]
        state: State<F>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F> {
        Admitted {
            #[pin]
            work: F,
            in_flight: Option<InFlight>,
        },
        Refused {
            error: Option<Error>,
        },
    }
}

impl<F> Guarded<F> {
    /// `work`, counted in flight by `in_flight` until it completes.
    pub fn admitted(in_flight: InFlight, work: F) -> Self {
        Self {
            state: State::Admitted {
                work,
                in_flight: Some(in_flight),
            },
        }
    }

    /// Refused with `error` (the work is never started).
    pub fn refused(error: Error) -> Self {
        Self {
            state: State::Refused { error: Some(error) },
        }
    }
}

impl<F, T, E> Future for Guarded<F>
where
    F: Future<Output = Outcome<T, E>>,
{
    type Output = Outcome<T, E>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            StateProj::Admitted { work, in_flight } => {
                let outcome = ready!(work.poll(cx));
                // Counted out as soon as it is answered.
                drop(in_flight.take());
                Poll::Ready(outcome)
            }
            StateProj::Refused { error } => Poll::Ready(Err(error
                .take()
                .expect("`Guarded` polled after completion"))),
        }
    }
}

impl<F> fmt::Debug for Guarded<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.state {
            State::Admitted { .. } => "admitted",
            State::Refused { .. } => "refused",
        };
        f.debug_struct("Guarded").field("state", &state).finish()
    }
}
