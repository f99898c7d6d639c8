use std::sync::{Arc, Mutex};
use std::time::Duration;

use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use resilience_core::deadline::{self, Deadline, Enforcer};
use resilience_core::telemetry::{self, deadline_where, label, metric};
use tracing::field::{Field, Visit};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

fn paused_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap()
}

fn counts(recorder: &DebuggingRecorder) -> Vec<(String, String, u64)> {
    let mut out = Vec::new();
    for (key, _, _, value) in recorder.snapshotter().snapshot().into_vec() {
        let key = key.key();
        assert_eq!(key.name(), metric::DEADLINE_EXCEEDED_TOTAL);
        let label = |k: &str| {
            key.labels()
                .find(|l| l.key() == k)
                .map(|l| l.value().to_owned())
                .unwrap()
        };
        let DebugValue::Counter(n) = value else {
            panic!("not a counter")
        };
        out.push((label(label::NAME), label(label::WHERE), n));
    }
    out.sort();
    out
}

#[test]
fn named_enforcement_counts_expiries_by_where() {
    let recorder = DebuggingRecorder::new();
    metrics::with_local_recorder(&recorder, || {
        let payments = Enforcer::new("payments");
        paused_runtime().block_on(async {
            let expired = Deadline::after(Duration::ZERO);
            let err = payments.run(expired, async {}).await.unwrap_err();
            assert_eq!(err.instance(), Some("payments"));
            for _ in 0..2 {
                let soon = Deadline::after(Duration::from_millis(5));
                payments
                    .run(soon, std::future::pending::<()>())
                    .await
                    .unwrap_err();
            }
            // Success and no-deadline calls count nothing.
            let later = Deadline::after(Duration::from_secs(1));
            payments.run(later, async {}).await.unwrap();
            payments.enforce(async {}).await.unwrap();
        });
    });
    assert_eq!(
        counts(&recorder),
        vec![
            ("payments".into(), deadline_where::BEFORE_CALL.into(), 1),
            ("payments".into(), deadline_where::DURING_CALL.into(), 2),
        ]
    );
}

#[test]
fn unnamed_enforcement_counts_under_default() {
    let recorder = DebuggingRecorder::new();
    metrics::with_local_recorder(&recorder, || {
        paused_runtime().block_on(async {
            deadline::scope(
                Deadline::after(Duration::from_millis(1)),
                deadline::enforce(std::future::pending::<()>()),
            )
            .await
            .unwrap_err();
        });
    });
    assert_eq!(
        counts(&recorder),
        vec![("default".into(), deadline_where::DURING_CALL.into(), 1)]
    );
}

#[derive(Clone, Default)]
struct Remaining(Arc<Mutex<Vec<f64>>>);

impl Visit for Remaining {
    fn record_f64(&mut self, field: &Field, value: f64) {
        if field.name() == telemetry::field::DEADLINE_REMAINING_SECONDS {
            self.0.lock().unwrap().push(value);
        }
    }
    fn record_debug(&mut self, _: &Field, _: &dyn std::fmt::Debug) {}
}

impl<S: tracing::Subscriber> Layer<S> for Remaining {
    fn on_record(
        &self,
        _: &tracing::span::Id,
        values: &tracing::span::Record<'_>,
        _: Context<'_, S>,
    ) {
        values.record(&mut self.clone());
    }
}

#[test]
fn remaining_budget_is_recorded_on_the_current_span() {
    let remaining = Remaining::default();
    let subscriber = tracing_subscriber::registry().with(remaining.clone());
    tracing::subscriber::with_default(subscriber, || {
        paused_runtime().block_on(async {
            let span = telemetry::call_span("op");
            let _entered = span.enter();
            Deadline::after(Duration::from_millis(1500))
                .run(async {})
                .await
                .unwrap();
        });
    });
    assert_eq!(*remaining.0.lock().unwrap(), vec![1.5]);
}
