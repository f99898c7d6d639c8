//! Calls that end without a result: a panic is a failure, a call cut off by its deadline
//! is a failure (timeout), a caller that gives up is not counted; and half-open never has
//! more than `half_open_calls` probes in flight, whatever the episodes.

use std::future::pending;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::time::Duration;

use std::future::Future;
use std::task::{Context, Waker};

use resilience_core::circuit_breaker::{CircuitBreaker, Guarded, State};
use resilience_core::classify::TransientErrors;
use resilience_core::deadline::{self, Deadline};
use resilience_core::outcome;
use resilience_core::{Class, ErrorKind};

use crate::ms;

/// Opens after 100 failures out of the last 100 calls (the default window).
fn breaker() -> CircuitBreaker {
    CircuitBreaker::builder()
        .name("unfinished")
        .open_duration(Duration::from_secs(60))
        .build()
        .unwrap()
}

#[tokio::test(start_paused = true)]
async fn panicking_calls_open_the_breaker() {
    let breaker = breaker();
    let mut panicked = 0;
    for _ in 0..200 {
        let b = breaker.clone();
        let task = tokio::spawn(async move {
            b.call(async {
                panic!("the dependency's client panicked") as Result<(), std::io::Error>
            })
            .await
        });
        match task.await {
            Err(join) if join.is_panic() => panicked += 1,
            Ok(Err(refused)) => assert_eq!(refused.kind(), ErrorKind::CircuitOpen),
            other => panic!("unexpected: {other:?}"),
        }
    }
    assert_eq!(panicked, 100, "the breaker opened after 100 panics");
    assert_eq!(breaker.state(), State::Open);
}

/// A `Guarded` future polled by hand (as a runtime polls a task): the panic unwinds
/// through `poll` without dropping the future, which is dropped only after the panic was
/// caught, when nothing is unwinding any more. The failure is recorded as it unwinds.
#[test]
fn a_guarded_call_that_panics_while_polled_is_a_failure_before_it_is_dropped() {
    let breaker = CircuitBreaker::builder()
        .count_window(10)
        .minimum_calls(10)
        .build()
        .unwrap();
    let permit = breaker.try_acquire_owned().unwrap();
    let operation =
        outcome::lift(async { panic!("inner poll panicked") as Result<(), std::io::Error> });
    let mut guarded = Box::pin(Guarded::admitted(permit, TransientErrors, operation));
    let mut cx = Context::from_waker(Waker::noop());
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _ = guarded.as_mut().poll(&mut cx);
    }));
    assert!(caught.is_err());
    let recorded = breaker.snapshot();
    assert_eq!(
        (recorded.calls, recorded.failed_calls),
        (1, 1),
        "recorded while unwinding"
    );
    drop(guarded);
    let after = breaker.snapshot();
    assert_eq!(
        (after.calls, after.failed_calls),
        (1, 1),
        "and not again when dropped"
    );
}

#[tokio::test(start_paused = true)]
async fn calls_cut_off_by_their_deadline_open_the_breaker() {
    let breaker = breaker();
    for i in 0..100 {
        let call = breaker.call(pending::<Result<(), std::io::Error>>());
        // Both ways of enforcing a deadline: `enforce` under a scope, and `Deadline::run`.
        let err = if i % 2 == 0 {
            deadline::scope(Deadline::after(ms(50)), deadline::enforce(call)).await
        } else {
            Deadline::after(ms(50)).run(call).await
        }
        .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::DeadlineExceeded);
    }
    assert_eq!(breaker.state(), State::Open);
    let refused = breaker.call(async { Ok::<_, std::io::Error>(()) }).await;
    assert_eq!(refused.unwrap_err().kind(), ErrorKind::CircuitOpen);
}

#[tokio::test(start_paused = true)]
async fn a_caller_that_gives_up_before_its_deadline_is_not_counted() {
    let breaker = breaker();
    for _ in 0..200 {
        // A plain timeout (no deadline), and a deadline that has not passed yet.
        let call = breaker.call(pending::<Result<(), std::io::Error>>());
        assert!(tokio::time::timeout(ms(10), call).await.is_err());
        let call = breaker.call(pending::<Result<(), std::io::Error>>());
        let inside = deadline::scope(Deadline::after(ms(100)), async {
            tokio::time::timeout(ms(10), call).await
        });
        assert!(inside.await.is_err());
    }
    assert_eq!(breaker.state(), State::Closed);
    assert_eq!(breaker.snapshot().calls, 0);
}

#[tokio::test(start_paused = true)]
async fn an_explicit_cancel_is_never_counted_even_past_the_deadline() {
    let breaker = CircuitBreaker::builder().count_window(1).build().unwrap();
    let expired = Deadline::after(Duration::ZERO);
    deadline::scope(expired, async {
        breaker.try_acquire().unwrap().cancel();
    })
    .await;
    assert_eq!(breaker.state(), State::Closed);
    // Dropped instead, in the same place: a timeout.
    deadline::scope(expired, async {
        drop(breaker.try_acquire().unwrap());
    })
    .await;
    assert_eq!(breaker.state(), State::Open);
}

/// A failed probe re-opens the breaker while its siblings still run, and probes outlast
/// `open_duration`: neither lets a new episode admit probes beyond the limit.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn probes_in_flight_never_exceed_half_open_calls_across_episodes() {
    const PROBES: usize = 5;
    let breaker = CircuitBreaker::builder()
        .count_window(1)
        .open_duration(Duration::from_micros(200))
        .half_open_calls(PROBES as u32)
        .max_half_open_duration(Duration::from_secs(3600))
        .build()
        .unwrap();
    breaker.try_acquire().unwrap().record_failure();
    let in_flight = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let admitted = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..64)
        .map(|i| {
            let (breaker, in_flight, peak, admitted) = (
                breaker.clone(),
                in_flight.clone(),
                peak.clone(),
                admitted.clone(),
            );
            tokio::spawn(async move {
                for n in 0..100_usize {
                    // Never a success: the breaker never closes, so every call admitted is
                    // a probe.
                    if let Ok(permit) = breaker.try_acquire_owned() {
                        let now = in_flight.fetch_add(1, SeqCst) + 1;
                        peak.fetch_max(now, SeqCst);
                        admitted.fetch_add(1, SeqCst);
                        match (i + n) % 3 {
                            // Fails at once: re-opens while siblings still run.
                            0 => {
                                in_flight.fetch_sub(1, SeqCst);
                                permit.record(Class::Permanent);
                            }
                            // Outlasts the open duration, then fails.
                            1 => {
                                tokio::time::sleep(Duration::from_millis(2)).await;
                                in_flight.fetch_sub(1, SeqCst);
                                permit.record(Class::Permanent);
                            }
                            // Outlasts it, then gives up.
                            _ => {
                                tokio::time::sleep(Duration::from_millis(1)).await;
                                in_flight.fetch_sub(1, SeqCst);
                                drop(permit);
                            }
                        }
                    }
                    tokio::time::sleep(Duration::from_micros(100)).await;
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let peak = peak.load(SeqCst);
    assert!(peak <= PROBES, "{peak} probes in flight at once");
    assert!(admitted.load(SeqCst) > PROBES, "several episodes ran");
}
