//! Every triggered fallback is counted by what answered.

use std::time::Duration;

use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use resilience_core::fallback::Fallback;
use resilience_core::telemetry::{label, metric};
use resilience_core::{Error, ErrorKind};

#[tokio::test(start_paused = true)]
async fn fallbacks_are_counted_by_what_answered_under_the_name() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let fallback = metrics::with_local_recorder(&recorder, || {
        Fallback::<u32, Error, u8>::builder()
            .name("prices")
            .stale(Duration::from_secs(10))
            .on_kinds([ErrorKind::Timeout])
            .build()
            .unwrap()
    });
    let timeout = || async { Err(Error::new(ErrorKind::Timeout)) };
    fallback.run(1, async { Ok(1) }).await.unwrap();
    fallback.run(1, timeout()).await.unwrap(); // stale
    fallback.run(2, timeout()).await.unwrap_err(); // nothing for key 2
    fallback
        .run(1, async { Err(Error::new(ErrorKind::Inner)) })
        .await
        .unwrap_err(); // not triggered
    let mut seen = Vec::new();
    for (key, _, _, value) in snapshotter.snapshot().into_vec() {
        assert_eq!(key.key().name(), metric::FALLBACKS_TOTAL);
        let labels: Vec<_> = key.key().labels().map(|l| (l.key(), l.value())).collect();
        assert!(labels.contains(&(label::NAME, "prices")));
        let outcome = labels.iter().find(|(k, _)| *k == label::OUTCOME).unwrap().1;
        if let DebugValue::Counter(n) = value
            && n > 0
        {
            seen.push((outcome.to_owned(), n));
        }
    }
    seen.sort();
    assert_eq!(seen, [("stale".into(), 1), ("unavailable".into(), 1)]);
}
