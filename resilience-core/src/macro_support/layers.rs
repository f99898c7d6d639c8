//! The body as an outcome, and the deadline around the whole call.

use std::future::Future;
use std::time::Duration;

use super::{Cached, Outcome};
use crate::deadline::{Deadline, DeadlineMetrics};

/// The body's result, as an outcome no primitive interfered with.
#[inline]
pub async fn lift<T, E, F>(body: F) -> Outcome<T, E>
where
    F: Future<Output = Result<T, E>>,
{
    Ok(body.await)
}

/// Runs the whole call under a deadline `budget` from now (or the ambient deadline, when
/// that is earlier): ambient inside (retries and bulkhead waits keep to it) and enforced
/// ([`Deadline::run`]), failing with [`DeadlineExceeded`](crate::ErrorKind::DeadlineExceeded) counted under the
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
