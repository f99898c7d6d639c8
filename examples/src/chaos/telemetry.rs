//! The demo's metrics: one Prometheus recorder for the whole process.
//!
//! The primitives of the hardened gateway report through the `metrics` facade; the demo
//! installs `metrics-exporter-prometheus` as the recorder, reads its counters for the
//! table (breaker transitions, deadline expiries, requests shed) and serves the same text
//! on `/metrics` in `--serve` mode. The table and the dashboard cannot disagree.

use std::sync::OnceLock;

use metrics_exporter_prometheus::PrometheusHandle;

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// The process's Prometheus handle, installing the recorder on first use.
///
/// `None` when another recorder was installed first (the table then shows no figures for
/// the primitives' counters rather than wrong ones).
pub fn prometheus() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            // Durations as histograms with the library's documented buckets, not summaries.
            let handle = resilience_core::prometheus::builder()
                .install_recorder()
                .ok()?;
            resilience_core::telemetry::describe();
            Some(handle)
        })
        .as_ref()
}

/// The current value of every counter named `name`, summed over its label sets, from a
/// Prometheus text rendering; only the samples whose labels contain every `filter`
/// (`key="value"` strings) are counted.
#[must_use]
pub fn counter_sum(rendered: &str, name: &str, filter: &[&str]) -> u64 {
    rendered
        .lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let rest = line.strip_prefix(name)?;
            let (labels, value) = match rest.strip_prefix('{') {
                Some(labelled) => labelled.split_once("} ")?,
                None => ("", rest.strip_prefix(' ')?),
            };
            filter
                .iter()
                .all(|f| labels.split(',').any(|l| l == *f))
                .then(|| value.trim().parse::<f64>().ok())
                .flatten()
        })
        .map(|v| v as u64)
        .sum()
}

/// A copy of the counters the table reads.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// `resilience_circuit_transitions_total`.
    pub breaker_transitions: u64,
    /// `resilience_deadline_exceeded_total`.
    pub deadline_expiries: u64,
    /// `resilience_bulkhead_rejected_total`.
    pub shed: u64,
    /// Retries made by the gateway's retry layer: `resilience_retry_attempts_total` less
    /// the first attempts (requests that got past the idempotency layer as new).
    pub retries: u64,
    /// `resilience_retry_budget_exhausted_total`.
    pub retry_budget_exhausted: u64,
}

impl Counters {
    /// Reads the counters now (zeros without a recorder).
    #[must_use]
    pub fn read() -> Self {
        let Some(handle) = prometheus() else {
            return Self::default();
        };
        use resilience_core::telemetry::metric;
        let text = handle.render();
        Self {
            breaker_transitions: counter_sum(&text, metric::CIRCUIT_TRANSITIONS_TOTAL, &[]),
            deadline_expiries: counter_sum(&text, metric::DEADLINE_EXCEEDED_TOTAL, &[]),
            shed: counter_sum(&text, metric::BULKHEAD_REJECTED_TOTAL, &[]),
            retries: counter_sum(&text, metric::RETRY_ATTEMPTS_TOTAL, &[]).saturating_sub(
                counter_sum(
                    &text,
                    metric::IDEMPOTENCY_REQUESTS_TOTAL,
                    &["outcome=\"new\""],
                ),
            ),
            retry_budget_exhausted: counter_sum(&text, metric::RETRY_BUDGET_EXHAUSTED_TOTAL, &[]),
        }
    }

    /// What changed since `before`.
    #[must_use]
    pub fn since(self, before: Self) -> Self {
        Self {
            breaker_transitions: self
                .breaker_transitions
                .saturating_sub(before.breaker_transitions),
            deadline_expiries: self
                .deadline_expiries
                .saturating_sub(before.deadline_expiries),
            shed: self.shed.saturating_sub(before.shed),
            retries: self.retries.saturating_sub(before.retries),
            retry_budget_exhausted: self
                .retry_budget_exhausted
                .saturating_sub(before.retry_budget_exhausted),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::counter_sum;

    #[test]
    fn counter_sum_adds_every_label_set_and_honours_filters() {
        let text = "# TYPE x_total counter\n\
                    x_total{name=\"a\",to=\"open\"} 2\n\
                    x_total{name=\"b\",to=\"closed\"} 3\n\
                    x_total_other 9\n\
                    y_total 4\n";
        assert_eq!(counter_sum(text, "x_total", &[]), 5);
        assert_eq!(counter_sum(text, "x_total", &["to=\"open\""]), 2);
        assert_eq!(counter_sum(text, "y_total", &[]), 4);
        assert_eq!(counter_sum(text, "z_total", &[]), 0);
    }
}
