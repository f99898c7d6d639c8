//! Startup checks: retried with backoff until they pass, within the startup timeout.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use resilience_core::health::{Check, Phase, Status};
use resilience_core::retry::Backoff;
use resilience_core::{ErrorKind, FieldValue};
use tokio::time::Instant;

use crate::support::{Dependency, builder};

/// A check that fails its first `failures` runs, then passes; counts runs.
fn recovers_after(name: &'static str, failures: usize) -> (Check, Arc<AtomicUsize>) {
    let runs = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&runs);
    let check = Check::new(name, move || {
        let run = counted.fetch_add(1, Ordering::SeqCst);
        async move {
            if run < failures {
                Err("not yet")
            } else {
                Ok(())
            }
        }
    });
    (check, runs)
}

#[tokio::test(start_paused = true)]
async fn startup_retries_with_backoff_until_the_checks_pass() {
    let (migrations, runs) = recovers_after("migrations", 3);
    let health = builder()
        .startup_check(migrations)
        .startup_backoff(Backoff::constant(Duration::from_secs(2)))
        .build()
        .unwrap();

    let start = Instant::now();
    let startup = tokio::spawn({
        let health = health.clone();
        async move { health.startup().await }
    });
    // While starting, readiness fails and shows the startup check's last result.
    tokio::time::sleep(Duration::from_millis(1)).await;
    let report = health.readiness().await;
    assert_eq!(report.status, Status::Fail);
    assert_eq!(report.check("migrations").unwrap().status, Status::Fail);

    startup.await.unwrap().unwrap();
    assert_eq!(runs.load(Ordering::SeqCst), 4);
    // Three waits of 2 s with equal jitter: each in [1 s, 2 s].
    let waited = start.elapsed();
    assert!(
        waited >= Duration::from_secs(3) && waited <= Duration::from_secs(6),
        "{waited:?}"
    );
    assert_eq!(health.phase(), Phase::Ready);
    assert_eq!(health.readiness().await.status, Status::Pass);
}

#[tokio::test(start_paused = true)]
async fn a_startup_check_that_passed_is_not_run_again() {
    let (quick, quick_runs) = recovers_after("quick", 0);
    let (slow, slow_runs) = recovers_after("slow", 2);
    let health = builder()
        .startup_check(quick)
        .startup_check(slow)
        .build()
        .unwrap();
    health.startup().await.unwrap();
    assert_eq!(quick_runs.load(Ordering::SeqCst), 1);
    assert_eq!(slow_runs.load(Ordering::SeqCst), 3);
}

#[tokio::test(start_paused = true)]
async fn startup_gives_up_at_its_timeout_and_readiness_stays_failed() {
    let db = Dependency::up();
    db.set_up(false);
    let health = builder()
        .startup_check(db.check("db"))
        .startup_timeout(Duration::from_secs(30))
        .build()
        .unwrap();

    let start = Instant::now();
    let err = health.startup().await.unwrap_err();
    assert!(
        start.elapsed() <= Duration::from_secs(30),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(err.kind(), ErrorKind::DeadlineExceeded);
    assert_eq!(err.field("failed_checks"), Some(&FieldValue::from("db")));
    assert_eq!(
        std::error::Error::source(&err).unwrap().to_string(),
        "connection refused"
    );
    // Exponential from 100 ms up to 5 s, with jitter: several attempts, all failed.
    assert!(db.runs() >= 5, "{}", db.runs());

    assert_eq!(health.phase(), Phase::StartupFailed);
    let report = health.readiness().await;
    assert_eq!(report.status, Status::Fail);
    assert_eq!(
        report.check("lifecycle").unwrap().observed_value,
        Some(FieldValue::from("startup_failed"))
    );
    // For good: the dependency coming back does not make the instance ready.
    db.set_up(true);
    let again = health.startup().await.unwrap_err();
    assert_eq!(again.kind(), ErrorKind::DeadlineExceeded);
    assert_eq!(health.readiness().await.status, Status::Fail);
}

#[tokio::test(start_paused = true)]
async fn a_hung_startup_check_cannot_outlast_the_startup_timeout() {
    let health = builder()
        .startup_check(
            Check::new("hangs", || {
                std::future::pending::<Result<(), std::io::Error>>()
            })
            .timeout(Duration::from_secs(3600)),
        )
        .startup_timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let start = Instant::now();
    let err = health.startup().await.unwrap_err();
    assert_eq!(start.elapsed(), Duration::from_secs(10));
    assert_eq!(err.kind(), ErrorKind::DeadlineExceeded);
}

#[tokio::test(start_paused = true)]
async fn shutdown_during_startup_ends_it() {
    let db = Dependency::up();
    db.set_up(false);
    let health = builder().startup_check(db.check("db")).build().unwrap();
    let startup = tokio::spawn({
        let health = health.clone();
        async move { health.startup().await }
    });
    tokio::time::sleep(Duration::from_secs(1)).await;
    health.shutdown();
    let err = startup.await.unwrap().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ShuttingDown);
    assert_eq!(health.phase(), Phase::Stopping);
}

#[tokio::test(start_paused = true)]
async fn concurrent_startups_run_the_checks_once() {
    let (check, runs) = recovers_after("db", 0);
    let health = builder().startup_check(check).build().unwrap();
    let (a, b) = tokio::join!(health.startup(), health.startup());
    a.unwrap();
    b.unwrap();
    assert_eq!(runs.load(Ordering::SeqCst), 1);
}
