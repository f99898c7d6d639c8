//! Hedges sent, won and refused, counted under the policy's name.

use std::time::Duration;

use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use resilience_core::hedge::Hedge;
use resilience_core::retry::RetryBudget;
use resilience_core::telemetry::{label, metric};

use crate::support::{Backend, MS, one_differs};

#[tokio::test(start_paused = true)]
async fn hedges_sent_won_and_refused_are_counted_under_the_policy_name() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    // Room for one hedge.
    let budget = RetryBudget::builder()
        .ratio(1.0)
        .min_per_sec(0)
        .build()
        .unwrap();
    let hedge = metrics::with_local_recorder(&recorder, || {
        Hedge::builder()
            .name("search")
            .delay(10 * MS)
            .max_hedges(2)
            .budget(budget)
            .build()
            .unwrap()
    });
    let backend = Backend::default();
    hedge
        .run(|| backend.call(one_differs(0, Duration::from_secs(1), 50 * MS), |_| false))
        .await
        .unwrap();
    let mut seen = Vec::new();
    for (key, _, _, value) in snapshotter.snapshot().into_vec() {
        let labels: Vec<_> = key.key().labels().map(|l| (l.key(), l.value())).collect();
        assert_eq!(labels, [(label::NAME, "search")]);
        if let DebugValue::Counter(n) = value {
            seen.push((key.key().name().to_owned(), n));
        }
    }
    seen.sort();
    assert_eq!(
        seen,
        [
            (metric::HEDGES_REFUSED_TOTAL.to_owned(), 1),
            (metric::HEDGES_SENT_TOTAL.to_owned(), 1),
            (metric::HEDGES_WON_TOTAL.to_owned(), 1),
        ]
    );
}
