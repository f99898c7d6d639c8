//! The layers that hold a shared instance around an attempt: the circuit breaker (which
//! also judges the attempt) and the bulkhead.

use std::future::Future;

use super::{Judged, Outcome};
use crate::bulkhead::Bulkhead;
use crate::circuit_breaker::CircuitBreaker;
use crate::retry::as_error;
use crate::{Classify, Error};

/// Asks the breaker, runs the attempt, judges it and records the class on the permit.
///
/// An open breaker ends the attempt with its `CircuitOpen` rejection, the body never
/// called. Rejections from inside (a full bulkhead, or a body that returned a rejecting
/// [`Error`]) give the permit back without counting: the dependency was never called.
pub async fn circuit_breaker<T, E, C, F>(
    breaker: Result<&CircuitBreaker, Error>,
    classifier: &C,
    attempt: F,
) -> Judged<T, E>
where
    E: 'static,
    C: Classify<T, E> + ?Sized,
    F: Future<Output = Outcome<T, E>>,
{
    let permit = match breaker.and_then(CircuitBreaker::try_acquire) {
        Ok(permit) => permit,
        Err(err) => return Judged::error(err),
    };
    let judged = Judged::classify(classifier, attempt.await);
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
    judged
}

/// Runs the attempt holding a permit of the bulkhead (waiting for one if the bulkhead is
/// configured to queue); a full bulkhead ends the attempt with `BulkheadFull`.
pub async fn bulkhead<T, E, F>(bulkhead: Result<&Bulkhead, Error>, attempt: F) -> Outcome<T, E>
where
    F: Future<Output = Outcome<T, E>>,
{
    let _permit = bulkhead?.acquire().await?;
    attempt.await
}
