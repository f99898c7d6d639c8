//! Metric handles, resolved once per layer instance.

use metrics::Counter;
use resilience_core::Name;
use resilience_core::telemetry::{label, metric, outcome};

/// `resilience_idempotency_requests_total{name, outcome}`, one handle per outcome.
#[derive(Debug)]
pub(crate) struct Metrics {
    pub(crate) new: Counter,
    pub(crate) replayed: Counter,
    pub(crate) conflict: Counter,
    pub(crate) mismatch: Counter,
    pub(crate) invalid: Counter,
    pub(crate) store_error: Counter,
}

impl Metrics {
    pub(crate) fn new(name: &Name) -> Self {
        let counter = |outcome: &'static str| {
            metrics::counter!(
                metric::IDEMPOTENCY_REQUESTS_TOTAL,
                label::NAME => name.to_shared_string(),
                label::OUTCOME => outcome,
            )
        };
        Self {
            new: counter(outcome::NEW),
            replayed: counter(outcome::REPLAYED),
            conflict: counter(outcome::CONFLICT),
            mismatch: counter(outcome::MISMATCH),
            invalid: counter(outcome::INVALID),
            store_error: counter(outcome::STORE_ERROR),
        }
    }
}
