//! Shutdown: readiness fails first; after the delay new requests are refused and the ones
//! in flight get the drain timeout to finish.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use resilience_core::health::{Health, Phase, Status};
use resilience_core::{ErrorKind, FieldValue, Primitive};
use tokio::time::Instant;

use crate::support::{builder, started};

/// A request that holds an in-flight guard for `work`.
fn request(health: &Health, work: Duration) -> tokio::task::JoinHandle<()> {
    let guard = health.enter().expect("admitted");
    tokio::spawn(async move {
        tokio::time::sleep(work).await;
        drop(guard);
    })
}

#[tokio::test(start_paused = true)]
async fn shutdown_fails_readiness_first_and_drains_after_the_delay() {
    let health = started(builder().shutdown_delay(Duration::from_secs(5))).await;
    let signal = tokio::spawn(health.shutdown_signal(std::future::ready(())));
    tokio::task::yield_now().await;

    // Readiness fails at once, but requests are still served during the delay.
    assert_eq!(health.phase(), Phase::Stopping);
    assert_eq!(health.readiness().await.status, Status::Fail);
    assert!(health.enter().is_ok());

    tokio::time::advance(Duration::from_secs(5)).await;
    signal.await.unwrap();
    assert_eq!(health.phase(), Phase::Draining);
    let refused = health.enter().unwrap_err();
    assert_eq!(refused.kind(), ErrorKind::ShuttingDown);
    assert!(refused.is_rejection());
    assert_eq!(refused.primitive(), Some(Primitive::Health));
}

#[tokio::test(start_paused = true)]
async fn the_signal_future_resolves_after_a_programmatic_shutdown() {
    let health = started(builder().shutdown_delay(Duration::from_secs(2))).await;
    let signal = tokio::spawn(health.shutdown_signal(std::future::pending::<()>()));
    let start = Instant::now();
    health.shutdown();
    signal.await.unwrap();
    assert_eq!(start.elapsed(), Duration::from_secs(2));
    assert_eq!(health.phase(), Phase::Draining);
}

#[tokio::test(start_paused = true)]
async fn drain_waits_for_in_flight_requests_and_refuses_new_ones() {
    let health = started(builder().drain_timeout(Duration::from_secs(30))).await;
    let requests: Vec<_> = [1, 2, 3]
        .map(|s| request(&health, Duration::from_secs(s)))
        .into();
    assert_eq!(health.in_flight(), 3);

    let start = Instant::now();
    health.shutdown_signal(std::future::ready(())).await;
    assert!(health.enter().is_err(), "a new request is refused");
    let server = async { "served" };
    assert_eq!(health.drain(server).await.unwrap(), "served");
    assert_eq!(
        start.elapsed(),
        Duration::from_secs(3),
        "the last request finished"
    );
    assert_eq!(health.in_flight(), 0);
    for r in requests {
        assert!(r.is_finished());
    }
}

#[tokio::test(start_paused = true)]
async fn drain_gives_up_at_the_drain_timeout() {
    let health = started(builder().drain_timeout(Duration::from_secs(10))).await;
    let _stuck = request(&health, Duration::from_secs(3600));
    let _quick = request(&health, Duration::from_secs(1));

    let start = Instant::now();
    let draining = health.drain(std::future::pending::<()>());
    let signal = health.shutdown_signal(std::future::ready(()));
    let (drained, ()) = tokio::join!(draining, signal);
    let err = drained.unwrap_err();
    assert_eq!(start.elapsed(), Duration::from_secs(10));
    assert_eq!(err.kind(), ErrorKind::DeadlineExceeded);
    assert!(!err.is_rejection());
    assert_eq!(err.field("in_flight"), Some(&FieldValue::from(1_u64)));
}

#[tokio::test(start_paused = true)]
async fn a_server_that_ends_before_shutdown_gives_its_output_at_once() {
    let health = started(builder()).await;
    let _busy = request(&health, Duration::from_secs(60));
    let start = Instant::now();
    assert_eq!(health.drain(async { 7 }).await.unwrap(), 7);
    assert_eq!(start.elapsed(), Duration::ZERO);
    assert_eq!(health.phase(), Phase::Ready);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_admitted_request_is_still_running_when_drain_completes() {
    let health = started(builder().drain_timeout(Duration::from_secs(60))).await;
    let holding = Arc::new(AtomicUsize::new(0));
    let refused = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..32)
        .map(|_| {
            let (health, holding, refused) = (health.clone(), holding.clone(), refused.clone());
            tokio::spawn(async move {
                let mut served = 0_u64;
                while let Ok(guard) = health.enter() {
                    holding.fetch_add(1, Ordering::SeqCst);
                    tokio::task::yield_now().await;
                    holding.fetch_sub(1, Ordering::SeqCst);
                    drop(guard);
                    served += 1;
                }
                refused.store(true, Ordering::SeqCst);
                served
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(20)).await;

    health.shutdown_signal(std::future::ready(())).await;
    health.drain(std::future::ready(())).await.unwrap();
    // Every guard was dropped, and each was dropped after its request stopped working.
    assert_eq!(holding.load(Ordering::SeqCst), 0);
    assert_eq!(health.in_flight(), 0);
    let mut served = 0;
    for w in workers {
        served += w.await.unwrap();
    }
    assert!(refused.load(Ordering::SeqCst));
    assert!(served > 0);
}

#[tokio::test(start_paused = true)]
async fn a_guarded_request_counts_until_it_completes_and_a_refused_one_never_runs() {
    let health = started(builder()).await;
    let ran = Arc::new(AtomicBool::new(false));
    let slow = health.guard(resilience_core::outcome::lift(async {
        tokio::time::sleep(Duration::from_secs(1)).await;
        Ok::<_, std::io::Error>("served")
    }));
    // Counted from the moment it is guarded, before its first poll.
    assert_eq!(health.in_flight(), 1);
    let slow = tokio::spawn(slow);

    health.shutdown_signal(std::future::ready(())).await;
    let refused = health.guard(resilience_core::outcome::lift({
        let ran = Arc::clone(&ran);
        async move {
            ran.store(true, Ordering::SeqCst);
            Ok::<_, std::io::Error>("never")
        }
    }));
    let err = refused.await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ShuttingDown);
    assert!(!ran.load(Ordering::SeqCst), "a refused request never runs");
    assert_eq!(health.in_flight(), 1);

    assert_eq!(slow.await.unwrap().unwrap().unwrap(), "served");
    assert_eq!(health.in_flight(), 0, "counted out once answered");
}
