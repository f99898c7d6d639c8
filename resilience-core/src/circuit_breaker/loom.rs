//! Loom models of the breaker's lock-free state: every interleaving (up to a preemption
//! bound) of admissions, outcomes and transitions on the packed state word, and of
//! records racing on a count window. Run by `.ci/run`:
//! `RUSTFLAGS="--cfg loom" cargo test -p resilience-core --lib --release loom`.

use std::time::Duration;

use loom::sync::Arc;
use loom::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use loom::thread;

use super::window::{CountWindow, Outcome, Totals};
use super::{CircuitBreaker, State};
use crate::Class;

/// Explores with a preemption bound, which keeps a run to seconds.
fn model(f: impl Fn() + Send + Sync + 'static) {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(3);
    builder.check(f);
}

/// Half-open with `calls` probes; time plays no part (open and half-open last an hour).
fn half_open(calls: u32) -> CircuitBreaker {
    let breaker = CircuitBreaker::builder()
        .count_window(1)
        .half_open_calls(calls)
        .open_duration(Duration::from_secs(3600))
        .max_half_open_duration(Duration::from_secs(3600))
        .build()
        .unwrap();
    breaker.shared.force(State::HalfOpen);
    breaker
}

/// Admits a probe if it can and checks the limit while it runs; `probes` counts the
/// probes between admission and outcome.
fn probe(breaker: &CircuitBreaker, probes: &AtomicUsize, limit: usize, class: Option<Class>) {
    if let Ok(permit) = breaker.try_acquire() {
        let running = probes.fetch_add(1, SeqCst) + 1;
        assert!(
            running <= limit,
            "{running} probes in flight, limit {limit}"
        );
        // Counted out before the slot is given back, so the count is never low.
        probes.fetch_sub(1, SeqCst);
        match class {
            Some(class) => permit.record(class),
            None => drop(permit),
        }
    }
}

#[test]
fn loom_a_probe_that_outlives_its_episode_keeps_its_slot() {
    model(|| {
        let breaker = half_open(1);
        let probes = Arc::new(AtomicUsize::new(0));
        let held = breaker.try_acquire_owned().unwrap();
        probes.fetch_add(1, SeqCst);
        let other = {
            let (breaker, probes) = (breaker.clone(), probes.clone());
            thread::spawn(move || {
                // The episode ends and a new one begins while the first probe runs.
                let word = breaker.shared.word();
                breaker.shared.transition(word, State::Open);
                let word = breaker.shared.word();
                breaker.shared.transition(word, State::HalfOpen);
                probe(&breaker, &probes, 1, Some(Class::Success));
            })
        };
        probes.fetch_sub(1, SeqCst);
        held.record(Class::Success);
        other.join().unwrap();
        assert_eq!(breaker.shared.word().in_flight(), 0, "a slot leaked");
    });
}

#[test]
fn loom_racing_probes_and_a_failure_keep_the_limit_and_leave_no_slot_behind() {
    model(|| {
        let breaker = half_open(2);
        let probes = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = [Some(Class::Success), Some(Class::Permanent)]
            .into_iter()
            .map(|class| {
                let (breaker, probes) = (breaker.clone(), probes.clone());
                thread::spawn(move || probe(&breaker, &probes, 2, class))
            })
            .collect();
        probe(&breaker, &probes, 2, None);
        for t in threads {
            t.join().unwrap();
        }
        let word = breaker.shared.word();
        assert_eq!(word.in_flight(), 0, "a slot leaked: {word:?}");
        assert!(
            matches!(word.state(), State::HalfOpen | State::Open),
            "{word:?}"
        );
    });
}

#[test]
fn loom_a_count_window_holds_exactly_one_recorded_outcome_per_slot() {
    const FAIL: Outcome = Outcome {
        failure: true,
        slow: false,
    };
    const SLOW: Outcome = Outcome {
        failure: false,
        slow: true,
    };
    model(|| {
        let window = Arc::new(CountWindow::new(1));
        let other = {
            let window = window.clone();
            thread::spawn(move || {
                window.record(FAIL);
            })
        };
        window.record(SLOW);
        other.join().unwrap();
        let totals = window.totals();
        let as_one = |o: Outcome| Totals {
            calls: 1,
            failures: u32::from(o.failure),
            slow: u32::from(o.slow),
        };
        assert!(
            totals == as_one(FAIL) || totals == as_one(SLOW),
            "totals {totals:?} are no outcome that was recorded"
        );
    });
}
