//! A time limit per attempt: [`timeout`], what `#[resilient(timeout = "...")]` puts around
//! each attempt of the body.
//!
//! ```
//! use std::time::Duration;
//! use resilience_core::{ErrorKind, outcome, timeout};
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
//! let slow = async {
//!     tokio::time::sleep(Duration::from_secs(5)).await;
//!     Ok::<_, std::io::Error>("late")
//! };
//! let err = timeout::timeout(Duration::from_millis(300), outcome::lift(slow))
//!     .await
//!     .unwrap_err();
//! assert_eq!(err.kind(), ErrorKind::Timeout);
//! assert!(err.effective_class().is_transient()); // worth another attempt
//! # }
//! ```
//!
//! # Timeout or deadline
//!
//! A [deadline](crate::deadline) is the time the whole call has, across attempts and
//! services; a timeout is how long one attempt may take before it is given up and, under a
//! retry, tried again. So a timeout fails with [`ErrorKind::Timeout`] (transient: retried)
//! and a deadline with [`ErrorKind::DeadlineExceeded`] (permanent: no later attempt fits).
//!
//! # Cost
//!
//! The timer is armed only if the attempt has to wait: an attempt that completes on its
//! first poll reads no clock and never touches the timer wheel. So the limit counts from
//! the end of that first poll, which differs from the attempt's start only by the
//! synchronous work before its first wait. The timer is the one [`deadline::enforce`]
//! uses.
//!
//! [`deadline::enforce`]: crate::deadline::enforce

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use pin_project_lite::pin_project;
use tokio::time::Instant;

use crate::outcome::Outcome;
use crate::timer::{self, LazyTimer};
use crate::{Error, ErrorKind, Primitive};

/// Bounds `attempt` (a future producing an [`Outcome`]) by `limit`: past it the attempt is
/// dropped and the outcome is an [`ErrorKind::Timeout`] error (primitive `timeout`, with
/// `elapsed` and the field `timeout` set to `limit`).
#[inline]
pub fn timeout<F>(limit: Duration, attempt: F) -> Timeout<F> {
    Timeout {
        attempt,
        limit,
        timer: LazyTimer::new(),
    }
}

pin_project! {
    /// The future of [`timeout`].
    #[derive(Debug)]
    #[must_use = "futures do nothing unless polled"]
    pub struct Timeout<F> {
        #[pin]
        attempt: F,
        limit: Duration,
        #[pin]
        timer: LazyTimer,
    }
}

impl<F, T, E> Future for Timeout<F>
where
    F: Future<Output = Outcome<T, E>>,
{
    type Output = Outcome<T, E>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Poll::Ready(outcome) = this.attempt.poll(cx) {
            return Poll::Ready(outcome);
        }
        let limit = *this.limit;
        ready!(
            this.timer
                .poll_at(cx, || timer::after(Instant::now(), limit))
        );
        Poll::Ready(Err(Error::new(ErrorKind::Timeout)
            .with_primitive(Primitive::Timeout)
            .with_elapsed(limit)
            .with_field("timeout", limit)))
    }
}
