//! Metrics, verified with a debugging recorder.

use std::time::Duration;

use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use resilience_core::bulkhead::Bulkhead;
use resilience_core::telemetry::{label, metric};

/// One snapshot (it resets every value), as `(name, value)` for the `payments` series.
fn values(snapshotter: &Snapshotter) -> Vec<(String, DebugValue)> {
    snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .filter(|(key, ..)| {
            key.key()
                .labels()
                .any(|l| l.key() == label::NAME && l.value() == "payments")
        })
        .map(|(key, .., value)| (key.key().name().to_owned(), value))
        .collect()
}

fn find<'a>(values: &'a [(String, DebugValue)], name: &str) -> Option<&'a DebugValue> {
    values.iter().find(|(n, _)| n == name).map(|(_, v)| v)
}

fn gauge(snapshotter: &Snapshotter) -> f64 {
    match find(&values(snapshotter), metric::BULKHEAD_IN_FLIGHT) {
        Some(DebugValue::Gauge(v)) => v.0,
        other => panic!("in-flight gauge: {other:?}"),
    }
}

#[test]
fn in_flight_gauge_rejected_counter_and_wait_histogram() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    // Handles bind to the recorder installed when the bulkhead is built.
    let bulkhead = metrics::with_local_recorder(&recorder, || {
        Bulkhead::builder()
            .name("payments")
            .max_concurrent(2)
            .max_waiting(1)
            .max_wait(Duration::from_millis(250))
            .build()
            .unwrap()
    });
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    runtime.block_on(async {
        let a = bulkhead.try_acquire().unwrap();
        let b = bulkhead.acquire().await.unwrap();
        assert_eq!(gauge(&snapshotter), 2.0);

        assert!(bulkhead.try_acquire().is_err());
        // Waits the whole `max_wait`, then is refused.
        assert!(bulkhead.acquire().await.is_err());
        let snapshot = values(&snapshotter);
        match find(&snapshot, metric::BULKHEAD_REJECTED_TOTAL) {
            Some(DebugValue::Counter(n)) => assert_eq!(*n, 2),
            other => panic!("rejected counter: {other:?}"),
        }
        match find(&snapshot, metric::BULKHEAD_WAIT_SECONDS) {
            Some(DebugValue::Histogram(values)) => {
                assert_eq!(values.len(), 1, "only callers that waited are recorded");
                assert_eq!(values[0].0, 0.25);
            }
            other => panic!("wait histogram: {other:?}"),
        }

        // Each snapshot resets the debugging recorder, so this reading is the change
        // since the one above: both permits released.
        drop((a, b));
        assert_eq!(gauge(&snapshotter), -2.0);
    });
}
