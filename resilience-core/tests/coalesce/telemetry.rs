//! Requests counted by role.

use std::time::Duration;

use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use resilience_core::coalesce::Coalescer;
use resilience_core::telemetry::{label, metric};

#[tokio::test(start_paused = true)]
async fn requests_are_counted_by_role_under_the_name() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let coalescer = metrics::with_local_recorder(&recorder, || {
        Coalescer::<u8, u8>::builder()
            .name("profiles")
            .max_keys(1)
            .build()
            .unwrap()
    });
    let slow = || async {
        tokio::time::sleep(Duration::from_millis(5)).await;
        1
    };
    let leader = coalescer.run(1, slow);
    let follower = coalescer.run(1, slow);
    let bypass = coalescer.run(2, slow);
    drop(leader); // the follower takes over
    let _ = tokio::join!(follower, bypass);
    let mut seen = Vec::new();
    for (key, _, _, value) in snapshotter.snapshot().into_vec() {
        assert_eq!(key.key().name(), metric::COALESCE_REQUESTS_TOTAL);
        let labels: Vec<_> = key.key().labels().map(|l| (l.key(), l.value())).collect();
        assert!(labels.contains(&(label::NAME, "profiles")));
        let role = labels.iter().find(|(k, _)| *k == label::ROLE).unwrap().1;
        if let DebugValue::Counter(n) = value {
            seen.push((role.to_owned(), n));
        }
    }
    seen.sort();
    assert_eq!(
        seen,
        [
            ("bypass".into(), 1),
            ("follower".into(), 1),
            ("leader".into(), 1),
            ("takeover".into(), 1)
        ]
    );
}
