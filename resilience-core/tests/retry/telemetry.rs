//! Metrics by outcome (the tracing events are tested in `tests/tracing/`, with every other
//! test that asserts on tracing output).

use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use resilience_core::retry::Backoff;
use resilience_core::telemetry::{label, metric};
use resilience_core::{Error, ErrorKind};

use crate::support::{Attempts, MS, boom, exact};

#[tokio::test(start_paused = true)]
async fn attempts_are_counted_by_outcome_under_the_policy_name() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let policy = metrics::with_local_recorder(&recorder, || {
        exact(Backoff::constant(MS), 3)
            .name("ledger")
            .build()
            .unwrap()
    });
    let attempts = Attempts::default();
    policy
        .run(|| {
            let n = attempts.hit();
            async move {
                match n {
                    1 => Err(boom()),
                    2 => Err(Error::new(ErrorKind::CircuitOpen).with_retry_after(MS)),
                    _ => Ok(()),
                }
            }
        })
        .await
        .unwrap();
    let mut seen = Vec::new();
    for (key, _, _, value) in snapshotter.snapshot().into_vec() {
        if key.key().name() != metric::RETRY_ATTEMPTS_TOTAL {
            continue;
        }
        let labels: Vec<_> = key.key().labels().map(|l| (l.key(), l.value())).collect();
        assert!(labels.contains(&(label::NAME, "ledger")));
        let outcome = labels.iter().find(|(k, _)| *k == label::OUTCOME).unwrap().1;
        if let DebugValue::Counter(n) = value
            && n > 0
        {
            seen.push((outcome.to_owned(), n));
        }
    }
    seen.sort();
    assert_eq!(
        seen,
        [
            ("failure".into(), 1),
            ("rejected".into(), 1),
            ("success".into(), 1)
        ]
    );
}
