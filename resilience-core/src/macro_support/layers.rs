//! The deadline around the whole call.

use std::future::Future;
use std::time::Duration;

use super::{Cached, Outcome};
use crate::Error;
use crate::deadline::{Deadline, DeadlineMetrics, Enforce};

/// Runs the whole call under a deadline `budget` from now (or the ambient deadline, when
/// that is earlier): ambient inside (retries and bulkhead waits keep to it) and enforced
/// ([`Deadline::run`]), failing with [`DeadlineExceeded`](crate::ErrorKind::DeadlineExceeded) counted under the
/// operation's name.
pub fn deadline<F: Future>(
    budget: Duration,
    metrics: &'static Cached<DeadlineMetrics>,
    operation: &'static str,
    call: F,
) -> Enforce<F> {
    let metrics = metrics
        .get_or_init(|| DeadlineMetrics::new(operation))
        .clone();
    Deadline::after(budget).run(call).with_metrics(metrics)
}

/// The outcome of a call run under [`deadline`]: a passed deadline is the call's error.
#[inline]
pub fn flatten<T, E>(result: Result<Outcome<T, E>, Error>) -> Outcome<T, E> {
    result.and_then(|outcome| outcome)
}
