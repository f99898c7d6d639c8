//! Each check runs with its timeout, at most once per interval, whatever the number of
//! probes.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use resilience_core::health::{Check, Status};
use tokio::time::Instant;

use crate::support::{Dependency, builder, started};

const INTERVAL: Duration = Duration::from_secs(5);

#[tokio::test(start_paused = true)]
async fn a_cached_result_is_served_until_the_interval_passes() {
    let db = Dependency::up();
    let health = started(builder().interval(INTERVAL).check(db.check("db"))).await;

    assert_eq!(health.readiness().await.status, Status::Pass);
    assert_eq!(db.runs(), 1);

    // The database goes down, but the cached pass is served until the interval ends.
    db.set_up(false);
    tokio::time::advance(INTERVAL - Duration::from_millis(1)).await;
    for _ in 0..10 {
        assert_eq!(health.readiness().await.status, Status::Pass);
    }
    assert_eq!(db.runs(), 1);

    tokio::time::advance(Duration::from_millis(1)).await;
    let report = health.readiness().await;
    assert_eq!(report.status, Status::Fail);
    assert_eq!(db.runs(), 2);
    let db_report = report.check("db").unwrap();
    assert_eq!(db_report.output.as_deref(), Some("connection refused"));
}

#[tokio::test(start_paused = true)]
async fn a_check_can_set_its_own_interval() {
    let fast = Dependency::up();
    let slow = Dependency::up();
    let health = started(
        builder()
            .interval(INTERVAL)
            .check(fast.check("fast").interval(Duration::from_secs(1)))
            .check(slow.check("slow")),
    )
    .await;
    for _ in 0..5 {
        health.readiness().await;
        tokio::time::advance(Duration::from_secs(1)).await;
    }
    assert_eq!((fast.runs(), slow.runs()), (5, 1));
}

#[tokio::test(start_paused = true)]
async fn a_hung_check_fails_at_its_timeout() {
    let health = started(
        builder().check(
            Check::new("hangs", || {
                std::future::pending::<Result<(), std::io::Error>>()
            })
            .timeout(Duration::from_secs(2)),
        ),
    )
    .await;

    let start = Instant::now();
    let report = health.readiness().await;
    assert_eq!(start.elapsed(), Duration::from_secs(2));
    assert_eq!(report.status, Status::Fail);
    let hung = report.check("hangs").unwrap();
    assert_eq!(hung.status, Status::Fail);
    assert_eq!(hung.duration, Duration::from_secs(2));
    assert_eq!(hung.output.as_deref(), Some("did not answer within 2s"));
}

#[tokio::test(start_paused = true)]
async fn checks_run_concurrently() {
    let a = Dependency::with_latency(Duration::from_secs(1));
    let b = Dependency::with_latency(Duration::from_secs(1));
    let health = started(builder().check(a.check("a")).check(b.check("b"))).await;

    let start = Instant::now();
    assert_eq!(health.readiness().await.status, Status::Pass);
    assert_eq!(
        start.elapsed(),
        Duration::from_secs(1),
        "not one after the other"
    );
}

#[tokio::test(start_paused = true)]
async fn a_thousand_concurrent_probes_run_each_check_once_per_interval() {
    let db = Dependency::with_latency(Duration::from_millis(100));
    let cache = Dependency::with_latency(Duration::from_millis(300));
    let health = started(
        builder()
            .interval(INTERVAL)
            .check(db.check("db"))
            .check(cache.check("cache")),
    )
    .await;

    for interval in 1..=3 {
        let probes: Vec<_> = (0..1000)
            .map(|_| {
                let health = health.clone();
                tokio::spawn(async move { health.readiness().await })
            })
            .collect();
        for probe in probes {
            assert_eq!(probe.await.unwrap().status, Status::Pass);
        }
        assert_eq!((db.runs(), cache.runs()), (interval, interval));
        tokio::time::advance(INTERVAL).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn probes_on_many_threads_share_one_run() {
    // Real time and real threads: the check takes long enough for every probe to arrive
    // while it runs, and the interval is long enough that none arrives after it expired.
    let db = Dependency::with_latency(Duration::from_millis(200));
    let health = started(
        builder()
            .interval(Duration::from_secs(3600))
            .check(db.check("db")),
    )
    .await;

    let probes: Vec<_> = (0..1000)
        .map(|_| {
            let health = health.clone();
            tokio::spawn(async move { health.readiness().await.status })
        })
        .collect();
    for probe in probes {
        assert_eq!(probe.await.unwrap(), Status::Pass);
    }
    assert_eq!(db.runs(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_probe_that_gives_up_does_not_cancel_the_run() {
    let db = Dependency::with_latency(Duration::from_secs(2));
    let health = started(builder().check(db.check("db").timeout(Duration::from_secs(5)))).await;

    let impatient = tokio::time::timeout(Duration::from_secs(1), health.readiness()).await;
    assert!(impatient.is_err(), "the prober gave up after 1 s");

    // The next probe joins the run the first one started: it ends at t = 2 s.
    let start = Instant::now();
    assert_eq!(health.readiness().await.status, Status::Pass);
    assert_eq!(start.elapsed(), Duration::from_secs(1));
    assert_eq!(db.runs(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_panicking_check_fails_and_runs_again_after_the_interval() {
    let runs = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&runs);
    let health = started(
        builder()
            .interval(INTERVAL)
            .check(Check::new("flaky", move || {
                let run = counted.fetch_add(1, Ordering::SeqCst);
                async move {
                    assert!(
                        run > 0,
                        "first run panics (this message is expected in the output)"
                    );
                    Ok::<(), std::io::Error>(())
                }
            })),
    )
    .await;

    let report = health.readiness().await;
    assert_eq!(report.status, Status::Fail);
    let flaky = report.check("flaky").unwrap();
    assert!(
        flaky.output.as_deref().unwrap().contains("panicked"),
        "{flaky:?}"
    );

    tokio::time::advance(INTERVAL).await;
    assert_eq!(health.readiness().await.status, Status::Pass);
    assert_eq!(runs.load(Ordering::SeqCst), 2);
}
