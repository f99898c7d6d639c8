//! Check runs are counted by status and timed.

use std::time::Duration;

use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use metrics_util::{CompositeKey, MetricKind};
use resilience_core::health::{Check, Health};
use resilience_core::telemetry::{label, metric};

fn count(snapshot: &[(CompositeKey, DebugValue)], check: &str, status: &str) -> u64 {
    snapshot
        .iter()
        .find(|(key, _)| {
            key.kind() == MetricKind::Counter
                && key.key().name() == metric::HEALTH_CHECKS_TOTAL
                && key
                    .key()
                    .labels()
                    .any(|l| l.key() == label::NAME && l.value() == check)
                && key
                    .key()
                    .labels()
                    .any(|l| l.key() == label::STATUS && l.value() == status)
        })
        .map_or(0, |(_, value)| match value {
            DebugValue::Counter(n) => *n,
            _ => 0,
        })
}

#[tokio::test(start_paused = true)]
async fn each_run_is_counted_by_status_and_timed() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let health = metrics::with_local_recorder(&recorder, || {
        Health::builder()
            .interval(Duration::ZERO)
            .check(Check::new("db", || async {
                tokio::time::sleep(Duration::from_millis(250)).await;
                Ok::<(), std::io::Error>(())
            }))
            .check(
                Check::new("hangs", std::future::pending::<Result<(), std::io::Error>>)
                    .timeout(Duration::from_secs(1)),
            )
            .build()
            .unwrap()
    });
    health.startup().await.unwrap();
    health.readiness().await;
    health.readiness().await;

    let snapshot: Vec<_> = snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .map(|(key, _, _, value)| (key, value))
        .collect();
    assert_eq!(count(&snapshot, "db", "pass"), 2);
    assert_eq!(count(&snapshot, "hangs", "fail"), 2);
    assert_eq!(count(&snapshot, "hangs", "pass"), 0);
    let durations: Vec<f64> = snapshot
        .iter()
        .filter(|(key, _)| key.key().name() == metric::HEALTH_CHECK_DURATION_SECONDS)
        .filter(|(key, _)| key.key().labels().any(|l| l.value() == "hangs"))
        .flat_map(|(_, value)| match value {
            DebugValue::Histogram(values) => values.iter().map(|v| v.into_inner()).collect(),
            _ => Vec::new(),
        })
        .collect();
    assert_eq!(durations, [1.0, 1.0]);
}
