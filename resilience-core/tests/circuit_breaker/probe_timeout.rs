//! `probe_timeout`: a half-open probe into a hung dependency fails on its own short
//! timer, so recovery takes about `open_duration`, not a caller's deadline.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use resilience_core::circuit_breaker::{CircuitBreaker, CircuitBreakerBuilder, State};
use resilience_core::deadline::Deadline;
use resilience_core::{ErrorKind, Primitive};
use tokio::time::Instant;

use crate::ms;

fn tripped(builder: CircuitBreakerBuilder) -> CircuitBreaker {
    let breaker = builder
        .name("payments")
        .count_window(1)
        .open_duration(ms(500))
        .half_open_calls(1)
        .build()
        .unwrap();
    breaker.try_acquire().unwrap().record_failure();
    assert_eq!(breaker.state(), State::Open);
    breaker
}

#[tokio::test(start_paused = true)]
async fn hung_probe_fails_at_its_probe_timeout_and_reopens_the_breaker() {
    let breaker = tripped(CircuitBreaker::builder().probe_timeout(ms(100)));
    tokio::time::advance(ms(500)).await;
    let start = Instant::now();
    let err = breaker
        .call(std::future::pending::<Result<(), std::io::Error>>())
        .await
        .unwrap_err();
    assert_eq!(start.elapsed(), ms(100));
    assert_eq!(err.kind(), ErrorKind::Timeout);
    assert_eq!(err.primitive(), Some(Primitive::CircuitBreaker));
    assert_eq!(err.instance(), Some("payments"));
    assert!(!err.is_rejection());
    assert_eq!(breaker.state(), State::Open);
    // Open again for `open_duration`: the next probe is 500 ms away.
    let refused = breaker.try_acquire().unwrap_err();
    assert_eq!(refused.retry_after(), Some(ms(500)));
}

#[tokio::test(start_paused = true)]
async fn probe_answering_within_its_timeout_closes_the_breaker() {
    let breaker = tripped(CircuitBreaker::builder().probe_timeout(ms(100)));
    tokio::time::advance(ms(500)).await;
    let answer = breaker
        .call(async {
            tokio::time::sleep(ms(99)).await;
            Ok::<_, std::io::Error>("charged")
        })
        .await;
    assert_eq!(answer.unwrap(), "charged");
    assert_eq!(breaker.state(), State::Closed);
}

#[tokio::test(start_paused = true)]
async fn calls_admitted_while_closed_are_not_bounded_by_the_probe_timeout() {
    let breaker = CircuitBreaker::builder()
        .count_window(1)
        .probe_timeout(ms(100))
        .build()
        .unwrap();
    let answer = breaker
        .call(async {
            tokio::time::sleep(Duration::from_secs(3)).await;
            Ok::<_, std::io::Error>("slow but fine")
        })
        .await;
    assert_eq!(answer.unwrap(), "slow but fine");
    assert_eq!(breaker.state(), State::Closed);
}

/// A dependency that hangs until `back`, then answers in 10 ms; callers send a request
/// every 50 ms with a 2 s deadline each, through `breaker`, tripped at the start. Returns
/// how long after the dependency came back the first request succeeded.
async fn first_success_after_recovery(breaker: CircuitBreaker, back: Duration) -> Duration {
    breaker.try_acquire().unwrap().record_failure();
    breaker.try_acquire().unwrap().record_failure();
    assert_eq!(breaker.state(), State::Open);
    let start = Instant::now();
    let up = Arc::new(AtomicBool::new(false));
    let flip = {
        let up = Arc::clone(&up);
        tokio::spawn(async move {
            tokio::time::sleep(back).await;
            up.store(true, Ordering::SeqCst);
        })
    };
    let (done, mut first) = tokio::sync::mpsc::unbounded_channel();
    let mut tick = tokio::time::interval(ms(50));
    let succeeded = loop {
        tokio::select! {
            at = first.recv() => break at.expect("a caller reports"),
            _ = tick.tick() => {}
        }
        let (breaker, up, done) = (breaker.clone(), Arc::clone(&up), done.clone());
        tokio::spawn(async move {
            let call = breaker.call(async move {
                if up.load(Ordering::SeqCst) {
                    tokio::time::sleep(ms(10)).await;
                    Ok::<_, std::io::Error>(())
                } else {
                    std::future::pending().await
                }
            });
            if let Ok(Ok(())) = tokio::time::timeout(Duration::from_secs(2), call).await {
                let _ = done.send(Instant::now());
            }
        });
    };
    flip.abort();
    succeeded.duration_since(start) - back
}

#[tokio::test(start_paused = true)]
async fn recovery_takes_about_open_duration_with_a_probe_timeout_and_a_deadline_without() {
    let build = |probe: Option<Duration>| {
        let mut b = CircuitBreaker::builder()
            .count_window(4)
            .minimum_calls(2)
            .open_duration(ms(500))
            .half_open_calls(1);
        if let Some(limit) = probe {
            b = b.probe_timeout(limit);
        }
        b.build().unwrap()
    };
    let back = Duration::from_secs(5);
    let with = first_success_after_recovery(build(Some(ms(100))), back).await;
    let without = first_success_after_recovery(build(None), back).await;
    // With: a probe goes out every open_duration + probe_timeout (600 ms) at worst, and
    // the first after the dependency is back succeeds (plus its 10 ms, plus a tick).
    assert!(with <= ms(500 + 100 + 10 + 50), "recovered after {with:?}");
    // Without: the probe sent into the hang holds the breaker half-open until its
    // caller's 2 s deadline drops it, so recovery waits for that deadline.
    assert!(
        without > ms(500 + 100 + 10 + 50),
        "recovered after {without:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_bounded_probe_runs_under_its_deadline_so_it_can_be_propagated() {
    let breaker = tripped(CircuitBreaker::builder().probe_timeout(ms(100)));
    tokio::time::advance(ms(500)).await;
    let seen = breaker
        .call(async { Ok::<_, std::io::Error>(Deadline::current().map(Deadline::remaining)) })
        .await
        .unwrap();
    assert_eq!(seen, Some(ms(100)));
    // A call admitted while closed sees no deadline of the breaker's.
    let seen = breaker
        .call(async { Ok::<_, std::io::Error>(Deadline::current()) })
        .await
        .unwrap();
    assert_eq!(seen, None);
}
