//! `timeout = "..."`: a limit on each attempt, with the timer armed only if the attempt
//! has to wait.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use pin_project_lite::pin_project;
use tokio::time::{Instant, Sleep};

use super::Outcome;
use crate::{Error, ErrorKind, Primitive};

/// Bounds one attempt by `limit`: past it the attempt is dropped and fails with
/// [`ErrorKind::Timeout`] (transient: retried).
///
/// An attempt that completes on its first poll never reads the clock or touches the timer
/// wheel; otherwise the limit counts from the end of that first poll (the attempt's first
/// wait), which differs from its start only by the synchronous work before it.
#[inline]
pub fn timeout<T, E, F>(limit: Duration, body: F) -> Timeout<F>
where
    F: Future<Output = Result<T, E>>,
{
    Timeout {
        body,
        limit: Some(limit),
        timer: Timer::Idle,
    }
}

/// The body's result as an outcome no primitive interfered with (no timeout).
#[inline]
pub fn lift<T, E, F>(body: F) -> Timeout<F>
where
    F: Future<Output = Result<T, E>>,
{
    Timeout {
        body,
        limit: None,
        timer: Timer::Idle,
    }
}

pin_project! {
    /// The future of [`timeout`] and [`lift`].
    #[must_use = "futures do nothing unless polled"]
    #[derive(Debug)]
    pub struct Timeout<F> {
        #[pin]
        body: F,
        limit: Option<Duration>,
        #[pin]
        timer: Timer,
    }
}

pin_project! {
    #[project = TimerProj]
    #[derive(Debug)]
    enum Timer {
        Idle,
        Armed { #[pin] sleep: Sleep },
    }
}

impl<T, E, F> Future for Timeout<F>
where
    F: Future<Output = Result<T, E>>,
{
    type Output = Outcome<T, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        if let Poll::Ready(result) = this.body.poll(cx) {
            return Poll::Ready(Ok(result));
        }
        let Some(limit) = *this.limit else {
            return Poll::Pending;
        };
        if let TimerProj::Idle = this.timer.as_mut().project() {
            let sleep = tokio::time::sleep_until(Instant::now() + limit);
            this.timer.set(Timer::Armed { sleep });
        }
        let TimerProj::Armed { sleep } = this.timer.project() else {
            return Poll::Pending;
        };
        match sleep.poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(Error::new(ErrorKind::Timeout)
                .with_primitive(Primitive::Timeout)
                .with_elapsed(limit)
                .with_field("timeout", limit))),
            Poll::Pending => Poll::Pending,
        }
    }
}
