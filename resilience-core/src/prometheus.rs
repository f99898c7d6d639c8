//! A Prometheus exporter that renders every duration as a histogram.
//!
//! `metrics-exporter-prometheus` renders a histogram *as a summary* unless it was given
//! buckets for it: quantiles computed in one process, which cannot be added up across
//! instances and which `histogram_quantile` cannot read. [`builder`] returns a
//! [`PrometheusBuilder`] with [`DURATION_BUCKETS`] set for every duration metric in
//! [`METRICS`], so they come out as `# TYPE … histogram` with
//! `_bucket{le=…}`, `_sum` and `_count` series. Needs feature `prometheus`.
//!
//! ```
//! use resilience_core::prometheus;
//! use resilience_core::telemetry::metric;
//!
//! let recorder = prometheus::builder().build_recorder();
//! let handle = recorder.handle();
//! metrics::with_local_recorder(&recorder, || {
//!     metrics::histogram!(metric::BULKHEAD_WAIT_SECONDS, "name" => "db").record(0.003);
//! });
//! let text = handle.render();
//! assert!(text.contains("# TYPE resilience_bulkhead_wait_seconds histogram"));
//! assert!(text.contains(r#"resilience_bulkhead_wait_seconds_bucket{name="db",le="0.005"} 1"#));
//! ```
//!
//! Already have a builder (global labels, your own buckets)? Pass it through
//! [`with_duration_buckets`]: it adds buckets for this library's metrics only, and leaves
//! your own histograms as you configured them.

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder};

use crate::telemetry::{METRICS, MetricType};

/// The bucket bounds, in seconds, of every duration histogram: from half a millisecond
/// (a permit that was free at once) to a minute (a long wait for a rate limiter's turn
/// or a hung health check), about 2.5× apart, so that `histogram_quantile` reads p50 and
/// p99 within one bucket's error at every scale a backend sees.
pub const DURATION_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
    60.0,
];

/// A new [`PrometheusBuilder`] with [`DURATION_BUCKETS`] for every duration metric of
/// this library; install it as usual (`install_recorder`, or `build_recorder` and serve
/// the handle's `render()` on `/metrics`), then call
/// [`telemetry::describe`](crate::telemetry::describe).
pub fn builder() -> PrometheusBuilder {
    with_duration_buckets(PrometheusBuilder::new())
}

/// `builder` with [`DURATION_BUCKETS`] set for every duration metric of this library
/// (matched by full name, so other histograms keep their own settings).
pub fn with_duration_buckets(mut builder: PrometheusBuilder) -> PrometheusBuilder {
    for spec in METRICS.iter().filter(|s| s.kind == MetricType::Histogram) {
        builder = builder
            .set_buckets_for_metric(Matcher::Full(spec.name.to_owned()), DURATION_BUCKETS)
            .expect("DURATION_BUCKETS is not empty");
    }
    builder
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_increasing_positive_and_span_half_a_millisecond_to_a_minute() {
        assert!(DURATION_BUCKETS.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(DURATION_BUCKETS.first(), Some(&0.0005));
        assert_eq!(DURATION_BUCKETS.last(), Some(&60.0));
    }

    #[test]
    fn every_duration_metric_renders_as_a_histogram_and_others_are_untouched() {
        let recorder = builder().build_recorder();
        let handle = recorder.handle();
        metrics::with_local_recorder(&recorder, || {
            for spec in METRICS.iter().filter(|s| s.kind == MetricType::Histogram) {
                metrics::histogram!(spec.name).record(0.2);
            }
            metrics::histogram!("app_latency_seconds").record(0.2);
        });
        let text = handle.render();
        for spec in METRICS.iter().filter(|s| s.kind == MetricType::Histogram) {
            assert!(
                text.contains(&format!("# TYPE {} histogram", spec.name)),
                "{}: {text}",
                spec.name
            );
            assert!(text.contains(&format!("{}_bucket{{le=\"0.25\"}} 1", spec.name)));
        }
        assert!(
            text.contains("# TYPE app_latency_seconds summary"),
            "{text}"
        );
    }
}
