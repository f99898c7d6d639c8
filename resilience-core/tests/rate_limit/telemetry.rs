//! Metrics, verified with a debugging recorder: permitted and limited counters, the wait
//! histogram, and labels that never carry a key.

use std::time::Duration;

use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use resilience_core::rate_limit::{KeyedRateLimiter, RateLimiter};
use resilience_core::telemetry::{label, metric};

#[test]
fn permitted_limited_and_wait_are_counted_under_the_name_only() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    runtime.block_on(async {
        // Built under the paused clock, which the limiters then follow.
        let (limiter, keyed) = metrics::with_local_recorder(&recorder, || {
            let limiter = RateLimiter::builder()
                .name("payments")
                .rate(10.0)
                .burst(1)
                .max_wait(Duration::from_secs(1))
                .build()
                .unwrap();
            let keyed = KeyedRateLimiter::<String>::builder()
                .name("per-client")
                .rate(1.0)
                .burst(1)
                .build()
                .unwrap();
            (limiter, keyed)
        });
        limiter.try_acquire().unwrap();
        limiter.try_acquire().unwrap_err();
        limiter.acquire().await.unwrap();
        keyed.try_acquire("secret-client-id").unwrap();
        keyed.try_acquire("secret-client-id").unwrap_err();
    });

    let snapshot = snapshotter.snapshot().into_vec();
    let value = |name: &str, instance: &str| {
        snapshot
            .iter()
            .find(|(key, ..)| {
                key.key().name() == name
                    && key
                        .key()
                        .labels()
                        .any(|l| l.key() == label::NAME && l.value() == instance)
            })
            .map(|(.., v)| v)
    };
    assert_eq!(
        value(metric::RATE_LIMIT_PERMITTED_TOTAL, "payments"),
        Some(&DebugValue::Counter(2))
    );
    assert_eq!(
        value(metric::RATE_LIMIT_LIMITED_TOTAL, "payments"),
        Some(&DebugValue::Counter(1))
    );
    match value(metric::RATE_LIMIT_WAIT_SECONDS, "payments") {
        Some(DebugValue::Histogram(waits)) => {
            assert_eq!(waits.len(), 1, "only the caller that waited");
            assert!((waits[0].0 - 0.1).abs() < 1e-9, "{waits:?}");
        }
        other => panic!("wait histogram: {other:?}"),
    }
    assert_eq!(
        value(metric::RATE_LIMIT_LIMITED_TOTAL, "per-client"),
        Some(&DebugValue::Counter(1))
    );
    for (key, ..) in &snapshot {
        for l in key.key().labels() {
            assert_eq!(l.key(), label::NAME, "{key:?}");
            assert!(
                !l.value().contains("secret"),
                "a key became a label: {key:?}"
            );
        }
    }
}
