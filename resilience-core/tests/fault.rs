//! Fault injection as a user sees it: off by default, switched at run time for every
//! clone, rates that hold with a seed across concurrent callers, hangs that a deadline or
//! a breaker's probe timeout ends.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use resilience_core::fault::{Action, Fault};
use resilience_core::{CircuitBreaker, Deadline, ErrorKind, Primitive, outcome};
use tokio::time::Instant;

fn ok() -> impl Future<Output = outcome::Outcome<&'static str, std::io::Error>> {
    outcome::lift(async { Ok("ok") })
}

#[tokio::test(start_paused = true)]
async fn a_new_fault_injects_nothing_until_enabled() {
    let fault = Fault::builder()
        .error_rate(1.0)
        .latency(1.0, Duration::from_secs(1), Duration::from_secs(2))
        .build()
        .unwrap();
    assert!(!fault.is_enabled());
    let start = Instant::now();
    for _ in 0..100 {
        assert_eq!(fault.inject(ok()).await.unwrap().unwrap(), "ok");
    }
    assert_eq!(start.elapsed(), Duration::ZERO);
}

#[tokio::test(start_paused = true)]
async fn enabling_and_disabling_one_clone_switches_every_clone_at_once() {
    let fault = Fault::builder().abort_rate(1.0).build().unwrap();
    let clone = fault.clone();
    fault.enable();
    let err = clone.inject(ok()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::FaultInjected);
    assert_eq!(err.primitive(), Some(Primitive::Fault));
    clone.disable();
    assert!(!fault.is_enabled());
    assert_eq!(fault.inject(ok()).await.unwrap().unwrap(), "ok");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rates_hold_across_concurrent_callers_and_a_seed_fixes_the_counts() {
    async fn run(seed: u64) -> [usize; 3] {
        let fault = Fault::builder()
            .seed(seed)
            .enabled(true)
            .error_rate(0.2)
            .abort_rate(0.1)
            .build()
            .unwrap();
        let (answered, aborted, passed) = (
            Arc::new(AtomicUsize::new(0)),
            Arc::new(AtomicUsize::new(0)),
            Arc::new(AtomicUsize::new(0)),
        );
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let fault = fault.clone();
                let counts = [&answered, &aborted, &passed].map(Arc::clone);
                tokio::spawn(async move {
                    for _ in 0..5_000 {
                        match fault.inject(ok()).await {
                            Ok(_) => counts[2].fetch_add(1, Ordering::Relaxed),
                            Err(e)
                                if e.field("fault").is_some_and(|f| f.to_string() == "error") =>
                            {
                                counts[0].fetch_add(1, Ordering::Relaxed)
                            }
                            Err(_) => counts[1].fetch_add(1, Ordering::Relaxed),
                        };
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        [answered, aborted, passed].map(|c| c.load(Ordering::Relaxed))
    }
    let first = run(42).await;
    let total: usize = first.iter().sum();
    assert_eq!(total, 40_000);
    let share = |n: usize| n as f64 / total as f64;
    assert!((share(first[0]) - 0.2).abs() < 0.01, "{first:?}");
    assert!((share(first[1]) - 0.1).abs() < 0.01, "{first:?}");
    // The draws are numbered, not timed: however the callers interleave, the same seed
    // injects the same number of each fault.
    assert_eq!(run(42).await, first);
}

#[tokio::test(start_paused = true)]
async fn a_hung_call_ends_at_the_callers_deadline() {
    let fault = Fault::builder()
        .enabled(true)
        .hang_rate(1.0)
        .build()
        .unwrap();
    assert_eq!(fault.decide().action, Action::Hang);
    let start = Instant::now();
    let err = Deadline::after(Duration::from_millis(300))
        .run(fault.inject(ok()))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::DeadlineExceeded);
    assert_eq!(start.elapsed(), Duration::from_millis(300));
}

#[tokio::test(start_paused = true)]
async fn injected_aborts_trip_a_breaker_as_real_failures_would() {
    let breaker = CircuitBreaker::builder()
        .count_window(4)
        .minimum_calls(4)
        .build()
        .unwrap();
    let fault = Fault::builder()
        .enabled(true)
        .abort_rate(1.0)
        .build()
        .unwrap();
    for _ in 0..4 {
        let err = breaker
            .call(async {
                fault
                    .inject(ok())
                    .await
                    .and_then(|r| r.map_err(resilience_core::Error::wrap))
            })
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::FaultInjected);
    }
    let refused = breaker.call(async { Ok::<_, std::io::Error>(()) }).await;
    assert_eq!(refused.unwrap_err().kind(), ErrorKind::CircuitOpen);
}
