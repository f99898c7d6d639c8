//! The layers that hold a shared instance around an attempt: the circuit breaker (which
//! also judges the attempt) and the bulkhead.
//!
//! Both are hand-written futures that own the inner future once: an `async fn` taking a
//! future would keep the argument and its awaited copy side by side, and nested layers
//! would multiply the size of the caller's future.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use pin_project_lite::pin_project;

use super::{Judged, Outcome};
use crate::bulkhead::{self, Acquire, Bulkhead};
use crate::circuit_breaker::{CircuitBreaker, Permit};
use crate::retry::as_error;
use crate::{Classify, Error};

/// Asks the breaker (on the first poll), runs the attempt, judges it and records the class
/// on the permit.
///
/// An open breaker ends the attempt with its `CircuitOpen` rejection, the body never
/// polled. Rejections from inside (a full bulkhead, or a body that returned a rejecting
/// [`Error`]) give the permit back without counting: the dependency was never called.
#[inline]
pub fn circuit_breaker<'a, C, F>(
    breaker: Result<&'a CircuitBreaker, Error>,
    classifier: &'a C,
    attempt: F,
) -> BreakerAttempt<'a, C, F> {
    BreakerAttempt {
        breaker: Some(breaker),
        classifier,
        permit: None,
        attempt,
    }
}

pin_project! {
    /// The future of [`circuit_breaker`].
    #[must_use = "futures do nothing unless polled"]
    pub struct BreakerAttempt<'a, C, F> {
        breaker: Option<Result<&'a CircuitBreaker, Error>>,
        classifier: &'a C,
        permit: Option<Permit<'a>>,
        #[pin]
        attempt: F,
    }
}

impl<T, E, C, F> Future for BreakerAttempt<'_, C, F>
where
    E: 'static,
    C: Classify<T, E>,
    F: Future<Output = Outcome<T, E>>,
{
    type Output = Judged<T, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Some(breaker) = this.breaker.take() {
            match breaker.and_then(CircuitBreaker::try_acquire) {
                Ok(permit) => *this.permit = Some(permit),
                Err(err) => return Poll::Ready(Judged::error(err)),
            }
        }
        let attempt = this.attempt;
        let polled = match this.permit {
            Some(permit) => permit.fail_on_panic(|| attempt.poll(cx)),
            None => attempt.poll(cx),
        };
        let outcome = ready!(polled);
        let judged = Judged::classify(*this.classifier, outcome);
        if let Some(permit) = this.permit.take() {
            let rejected = match &judged.outcome {
                Ok(Ok(_)) => false,
                Ok(Err(err)) => as_error(err).is_some_and(Error::is_rejection),
                Err(err) => err.is_rejection(),
            };
            if rejected {
                permit.cancel();
            } else {
                permit.record(judged.class);
            }
        }
        Poll::Ready(judged)
    }
}

impl<C, F> fmt::Debug for BreakerAttempt<'_, C, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BreakerAttempt")
            .field("permit", &self.permit)
            .finish_non_exhaustive()
    }
}

/// Runs the attempt holding a permit of the bulkhead (asked for on the first poll, waiting
/// if the bulkhead is configured to queue); a full bulkhead ends the attempt with
/// `BulkheadFull`, the body never polled.
#[inline]
pub fn bulkhead<F>(bulkhead: Result<&Bulkhead, Error>, attempt: F) -> BulkheadAttempt<'_, F> {
    BulkheadAttempt {
        bulkhead: Some(bulkhead),
        acquire: None,
        permit: None,
        attempt,
    }
}

pin_project! {
    /// The future of [`bulkhead`].
    #[must_use = "futures do nothing unless polled"]
    pub struct BulkheadAttempt<'a, F> {
        bulkhead: Option<Result<&'a Bulkhead, Error>>,
        acquire: Option<Acquire>,
        permit: Option<bulkhead::Permit>,
        #[pin]
        attempt: F,
    }
}

impl<T, E, F> Future for BulkheadAttempt<'_, F>
where
    F: Future<Output = Outcome<T, E>>,
{
    type Output = Outcome<T, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Some(bulkhead) = this.bulkhead.take() {
            match bulkhead.map(Bulkhead::acquire) {
                Err(err) => return Poll::Ready(Err(err)),
                Ok(acquire) => match acquire.into_decided() {
                    Ok(Ok(permit)) => *this.permit = Some(permit),
                    Ok(Err(err)) => return Poll::Ready(Err(err)),
                    Err(waiting) => *this.acquire = Some(waiting),
                },
            }
        }
        if let Some(acquire) = this.acquire.as_mut() {
            let permit = ready!(Pin::new(acquire).poll(cx));
            *this.acquire = None;
            match permit {
                Ok(permit) => *this.permit = Some(permit),
                Err(err) => return Poll::Ready(Err(err)),
            }
        }
        let outcome = ready!(this.attempt.poll(cx));
        *this.permit = None;
        Poll::Ready(outcome)
    }
}

impl<F> fmt::Debug for BulkheadAttempt<'_, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BulkheadAttempt")
            .field("permit", &self.permit)
            .finish_non_exhaustive()
    }
}
