//! Metrics through a debugging recorder. The WARN / INFO events on transitions are tested
//! in `tests/tracing/`, with every other test that asserts on tracing output.

use std::time::Duration;

use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use resilience_core::Class;
use resilience_core::circuit_breaker::CircuitBreaker;
use resilience_core::telemetry::{circuit_state, label, metric, outcome};

/// A recorded metric: name, sorted labels, value.
type Recorded = (String, Vec<(String, String)>, DebugValue);

/// Every metric recorded while `f` runs.
fn metrics_after(f: impl FnOnce()) -> Vec<Recorded> {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    metrics::with_local_recorder(&recorder, f);
    snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .map(|(key, _, _, value)| {
            let mut labels: Vec<_> = key
                .key()
                .labels()
                .map(|l| (l.key().to_owned(), l.value().to_owned()))
                .collect();
            labels.sort();
            (key.key().name().to_owned(), labels, value)
        })
        .collect()
}

fn value_of(all: &[Recorded], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let mut want: Vec<_> = labels
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    want.sort();
    all.iter()
        .find(|(n, l, _)| n == name && *l == want)
        .map(|(_, _, v)| match v {
            DebugValue::Counter(n) => *n as f64,
            DebugValue::Gauge(g) => g.into_inner(),
            DebugValue::Histogram(_) => f64::NAN,
        })
}

#[test]
fn calls_by_outcome_state_gauge_and_transitions_are_recorded() {
    let all = metrics_after(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap();
        rt.block_on(async {
            let breaker = CircuitBreaker::builder()
                .name("payments")
                .count_window(2)
                .open_duration(Duration::from_secs(1))
                .half_open_calls(1)
                .build()
                .unwrap();
            breaker.try_acquire().unwrap().record(Class::Benign);
            drop(breaker.try_acquire().unwrap());
            breaker.try_acquire().unwrap().record_failure();
            breaker.try_acquire().unwrap().record_failure();
            assert!(breaker.try_acquire().is_err());
            assert!(breaker.try_acquire().is_err());
            tokio::time::advance(Duration::from_secs(1)).await;
            breaker.try_acquire().unwrap().record_success();
        });
    });
    let calls = |o: &str| {
        value_of(
            &all,
            metric::CALLS_TOTAL,
            &[
                (label::PRIMITIVE, "circuit_breaker"),
                (label::NAME, "payments"),
                (label::OUTCOME, o),
            ],
        )
    };
    assert_eq!(calls(outcome::SUCCESS), Some(1.0));
    assert_eq!(calls(outcome::FAILURE), Some(2.0));
    assert_eq!(calls(outcome::BENIGN), Some(1.0));
    assert_eq!(calls(outcome::CANCELLED), Some(1.0));
    assert_eq!(calls(outcome::REJECTED), Some(2.0));
    let transitions = |from: &str, to: &str| {
        value_of(
            &all,
            metric::CIRCUIT_TRANSITIONS_TOTAL,
            &[
                (label::NAME, "payments"),
                (label::FROM, from),
                (label::TO, to),
            ],
        )
    };
    use circuit_state::{CLOSED, HALF_OPEN, OPEN};
    assert_eq!(transitions(CLOSED, OPEN), Some(1.0));
    assert_eq!(transitions(OPEN, HALF_OPEN), Some(1.0));
    assert_eq!(transitions(HALF_OPEN, CLOSED), Some(1.0));
    assert_eq!(transitions(HALF_OPEN, OPEN), None);
    assert_eq!(
        value_of(&all, metric::CIRCUIT_STATE, &[(label::NAME, "payments")]),
        Some(circuit_state::CLOSED_VALUE)
    );
}

#[test]
fn the_state_gauge_follows_the_state() {
    let all = metrics_after(|| {
        let breaker = CircuitBreaker::builder()
            .name("gauge")
            .count_window(1)
            .build()
            .unwrap();
        breaker.try_acquire().unwrap().record_failure();
    });
    assert_eq!(
        value_of(&all, metric::CIRCUIT_STATE, &[(label::NAME, "gauge")]),
        Some(circuit_state::OPEN_VALUE)
    );
}
