//! Real threads: half-open admits exactly N probes, cancelled probes free slots, counts
//! are not lost.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::time::Duration;

use resilience_core::Class;
use resilience_core::circuit_breaker::{CircuitBreaker, State};
use tokio::sync::Barrier;

const TASKS: usize = 64;

/// A breaker that is half-open on the next call: tripped, with a 1 ns open duration.
fn tripped(half_open_calls: u32) -> CircuitBreaker {
    let breaker = CircuitBreaker::builder()
        .count_window(1)
        .open_duration(Duration::from_nanos(1))
        .half_open_calls(half_open_calls)
        .max_half_open_duration(Duration::from_secs(3600))
        .build()
        .unwrap();
    breaker.try_acquire().unwrap().record_failure();
    assert_eq!(breaker.state(), State::Open);
    breaker
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn half_open_admits_exactly_n_probes_under_race() {
    for _round in 0..20 {
        let breaker = tripped(5);
        let start = Arc::new(Barrier::new(TASKS));
        let hold = Arc::new(Barrier::new(TASKS));
        let admitted = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..TASKS)
            .map(|_| {
                let (breaker, start, hold, admitted) = (
                    breaker.clone(),
                    start.clone(),
                    hold.clone(),
                    admitted.clone(),
                );
                tokio::spawn(async move {
                    start.wait().await;
                    let permit = breaker.try_acquire_owned().ok();
                    if permit.is_some() {
                        admitted.fetch_add(1, SeqCst);
                    }
                    // Hold every permit until all tasks have asked.
                    hold.wait().await;
                    drop(permit);
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(admitted.load(SeqCst), 5);
        assert_eq!(breaker.state(), State::HalfOpen);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cancelled_probes_free_their_slots_and_never_exceed_the_budget() {
    const PROBES: usize = 4;
    let breaker = tripped(PROBES as u32);
    let in_flight = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let admitted = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..TASKS)
        .map(|i| {
            let (breaker, in_flight, peak, admitted) = (
                breaker.clone(),
                in_flight.clone(),
                peak.clone(),
                admitted.clone(),
            );
            tokio::spawn(async move {
                for n in 0..200 {
                    if let Ok(permit) = breaker.try_acquire_owned() {
                        let now = in_flight.fetch_add(1, SeqCst) + 1;
                        peak.fetch_max(now, SeqCst);
                        admitted.fetch_add(1, SeqCst);
                        tokio::task::yield_now().await;
                        in_flight.fetch_sub(1, SeqCst);
                        // Probes that end without counting: cancelled or benign.
                        if (i + n) % 2 == 0 {
                            drop(permit);
                        } else {
                            permit.record(Class::Benign);
                        }
                    }
                    tokio::task::yield_now().await;
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    assert!(peak.load(SeqCst) <= PROBES, "peak {}", peak.load(SeqCst));
    assert!(
        admitted.load(SeqCst) > PROBES,
        "freed slots were reused: {}",
        admitted.load(SeqCst)
    );
    assert_eq!(breaker.state(), State::HalfOpen);
    // Every slot is free again: exactly PROBES successes close the breaker.
    let permits: Vec<_> = (0..PROBES)
        .map(|_| breaker.try_acquire().unwrap())
        .collect();
    assert!(breaker.try_acquire().is_err());
    for p in permits {
        p.record_success();
    }
    assert_eq!(breaker.state(), State::Closed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn counts_are_not_lost_under_concurrency() {
    const PER_TASK: usize = 100;
    let window = (TASKS * PER_TASK) as u32;
    let breaker = CircuitBreaker::builder()
        .count_window(window)
        .failure_rate_threshold(1.0)
        .build()
        .unwrap();
    let tasks: Vec<_> = (0..TASKS)
        .map(|_| {
            let breaker = breaker.clone();
            tokio::spawn(async move {
                for n in 0..PER_TASK {
                    let permit = breaker.try_acquire().unwrap();
                    if n % 2 == 0 {
                        permit.record_failure();
                    } else {
                        permit.record_success();
                    }
                    if n % 10 == 0 {
                        tokio::task::yield_now().await;
                    }
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let snap = breaker.snapshot();
    assert_eq!(snap.calls, window);
    assert_eq!(snap.failed_calls, window / 2);
    assert_eq!(breaker.state(), State::Closed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_small_window_under_wraparound_races_does_not_drift() {
    // Never trips (a consecutive-failure limit no run reaches), so the window only counts.
    let breaker = CircuitBreaker::builder()
        .count_window(3)
        .without_failure_rate()
        .consecutive_failures(u32::MAX)
        .build()
        .unwrap();
    let tasks: Vec<_> = (0..TASKS)
        .map(|i| {
            let breaker = breaker.clone();
            tokio::spawn(async move {
                for n in 0..2000 {
                    let permit = breaker.try_acquire().unwrap();
                    if (i + n) % 3 == 0 {
                        permit.record_failure();
                    } else {
                        permit.record_success();
                    }
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let snap = breaker.snapshot();
    assert_eq!(snap.calls, 3);
    assert!(snap.failed_calls <= 3);
    // Three successes replace whatever the races left: exactly (3 calls, 0 failures).
    for _ in 0..3 {
        breaker.try_acquire().unwrap().record_success();
    }
    let snap = breaker.snapshot();
    assert_eq!((snap.calls, snap.failed_calls), (3, 0));
}
