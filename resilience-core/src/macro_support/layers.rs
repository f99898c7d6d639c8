//! The layers that need no shared instance: the deadline around the whole call and the
//! per-attempt timeout.

use std::future::Future;
use std::time::Duration;

use super::{Cached, Outcome};
use crate::deadline::{Deadline, DeadlineMetrics};
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
/// that is earlier): ambient inside (retries and bulkhead waits keep to it) and enforced
/// ([`Deadline::run`]), failing with [`ErrorKind::DeadlineExceeded`] counted under the
/// operation's name.
pub async fn deadline<T, E, F>(
    budget: Duration,
    metrics: &'static Cached<DeadlineMetrics>,
    operation: &'static str,
    call: F,
) -> Outcome<T, E>
where
    F: Future<Output = Outcome<T, E>>,
{
    let metrics = metrics.get_or_init(|| DeadlineMetrics::new(operation)).clone();
    match Deadline::after(budget).run(call).with_metrics(metrics).await {
        Ok(outcome) => outcome,
        Err(err) => Err(err),
    }
}
