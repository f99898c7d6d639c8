//! The layers that need no shared instance: the deadline around the whole call and the
//! per-attempt timeout.

use std::future::Future;
use std::time::Duration;

use super::Outcome;
use crate::deadline::{self, Deadline};
use crate::{Error, ErrorKind, Primitive};

/// The body's result, as an outcome no primitive interfered with.
#[inline]
pub async fn lift<T, E, F>(body: F) -> Outcome<T, E>
where
    F: Future<Output = Result<T, E>>,
{
    Ok(body.await)
}

/// Bounds one attempt by `limit`: past it the attempt is dropped and fails with
/// [`ErrorKind::Timeout`].
pub async fn timeout<T, E, F>(limit: Duration, body: F) -> Outcome<T, E>
where
    F: Future<Output = Result<T, E>>,
{
    tokio::time::timeout(limit, body).await.map_err(|_| {
        Error::new(ErrorKind::Timeout)
            .with_primitive(Primitive::Timeout)
            .with_elapsed(limit)
            .with_field("timeout", limit)
    })
}

/// Runs the whole call under a deadline `budget` from now (or the ambient deadline, when
/// that is earlier): the deadline is ambient inside (retries and bulkhead waits see it)
/// and enforced, failing with [`ErrorKind::DeadlineExceeded`].
pub async fn deadline<T, E, F>(budget: Duration, call: F) -> Outcome<T, E>
where
    F: Future<Output = Outcome<T, E>>,
{
    let requested = Deadline::after(budget);
    let effective = Deadline::current().map_or(requested, |outer| outer.min(requested));
    let exceeded = || {
        Error::new(ErrorKind::DeadlineExceeded).with_primitive(Primitive::Deadline)
    };
    if effective.is_expired() {
        return Err(exceeded().with_elapsed(Duration::ZERO));
    }
    let started = tokio::time::Instant::now();
    match tokio::time::timeout_at(effective.instant(), deadline::scope(effective, call)).await {
        Ok(result) => result,
        Err(_) => Err(exceeded().with_elapsed(started.elapsed()).during_call()),
    }
}
