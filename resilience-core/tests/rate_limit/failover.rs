//! A master of a Redis Cluster dies while checks are in flight: the limiter's failure
//! policy decides each check within the timeout (never a hang), and the same limiters
//! check against Redis again once a replica is promoted. The cluster is the test's own
//! (`OwnCluster`), never the shared one, so killing a node cannot break the other tests.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use resilience_core::ErrorKind;
use resilience_core::rate_limit::{RedisRateLimiter, StoreFailure};
use resilience_test_support::redis::{OwnCluster, Target};

const TIMEOUT: Duration = Duration::from_millis(200);
/// No check may take longer: the timeout, plus room for a busy machine.
const CHECK_BOUND: Duration = Duration::from_secs(5);
const TASKS: usize = 20;

/// What the checks of one policy saw.
#[derive(Default)]
struct Seen {
    checked: AtomicU64,
    /// Fail-open grants made without Redis.
    unchecked: AtomicU64,
    /// Fail-closed refusals.
    unavailable: AtomicU64,
    /// The first check decided by the policy, µs after the kill (0: none yet).
    first_failure: AtomicU64,
    /// The first checked grant after a failure, µs after the kill.
    recovered: AtomicU64,
    longest: AtomicU64,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_master_dying_under_checks_is_decided_by_the_failure_policy_and_checks_resume_after_promotion()
 {
    let test = "a_master_dying_under_checks";
    if Target::cluster_or_skip(test).is_none() {
        return;
    }
    let Some(cluster) = OwnCluster::start(test) else {
        return;
    };
    let build = |policy| {
        RedisRateLimiter::cluster_builder(cluster.urls().iter().map(String::as_str))
            .name("failover")
            // Never refused for being over the limit: every refusal is the store's.
            .rate(1e6)
            .burst(1_000_000)
            .timeout(TIMEOUT)
            .on_store_failure(policy)
            .build()
            .unwrap()
    };
    let limiters = [
        (build(StoreFailure::FailOpen), Arc::new(Seen::default())),
        (build(StoreFailure::FailClosed), Arc::new(Seen::default())),
    ];
    for (limiter, _) in &limiters {
        limiter.ping().await.unwrap();
        assert!(limiter.try_acquire("tenant-1").await.unwrap().is_checked());
    }
    let victim =
        cluster.master_of(&String::from_utf8(limiters[0].0.redis_key("tenant-1")).unwrap());
    assert_eq!(
        victim,
        cluster.master_of(&String::from_utf8(limiters[1].0.redis_key("tenant-1")).unwrap()),
        "both limiters' keys share the hash tag {{failover:tenant-1}}"
    );

    let killed = Arc::new(std::sync::OnceLock::<Instant>::new());
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for (limiter, seen) in &limiters {
        for _ in 0..TASKS {
            let (limiter, seen, killed, stop) = (
                limiter.clone(),
                Arc::clone(seen),
                Arc::clone(&killed),
                Arc::clone(&stop),
            );
            tasks.push(tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let begun = Instant::now();
                    let outcome =
                        tokio::time::timeout(CHECK_BOUND, limiter.try_acquire("tenant-1"))
                            .await
                            .expect("a check hung past its bound during the failover");
                    let took = u64::try_from(begun.elapsed().as_micros()).unwrap_or(u64::MAX);
                    seen.longest.fetch_max(took, Ordering::Relaxed);
                    let since_kill = killed.get().map(|at| {
                        u64::try_from(at.elapsed().as_micros())
                            .unwrap_or(u64::MAX)
                            .max(1)
                    });
                    let failed = match outcome {
                        Ok(grant) if grant.is_checked() => {
                            seen.checked.fetch_add(1, Ordering::Relaxed);
                            false
                        }
                        Ok(_) => {
                            seen.unchecked.fetch_add(1, Ordering::Relaxed);
                            true
                        }
                        Err(err) => {
                            assert_eq!(err.kind(), ErrorKind::StoreUnavailable, "{err:#}");
                            seen.unavailable.fetch_add(1, Ordering::Relaxed);
                            true
                        }
                    };
                    if let Some(since_kill) = since_kill {
                        if failed {
                            let _ = seen.first_failure.compare_exchange(
                                0,
                                since_kill,
                                Ordering::SeqCst,
                                Ordering::SeqCst,
                            );
                        } else if seen.first_failure.load(Ordering::SeqCst) > 0 {
                            let _ = seen.recovered.compare_exchange(
                                0,
                                since_kill,
                                Ordering::SeqCst,
                                Ordering::SeqCst,
                            );
                        }
                    }
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }));
        }
    }

    tokio::time::sleep(Duration::from_millis(500)).await;
    cluster.kill(victim);
    let _ = killed.set(Instant::now());
    let deadline = Instant::now() + Duration::from_secs(60);
    while limiters
        .iter()
        .any(|(_, seen)| seen.recovered.load(Ordering::SeqCst) == 0)
    {
        assert!(
            Instant::now() < deadline,
            "checks did not resume within 60 s of the kill"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // A while after the promotion: every check is answered by Redis again.
    tokio::time::sleep(Duration::from_millis(500)).await;
    for (limiter, _) in &limiters {
        for _ in 0..10 {
            assert!(limiter.try_acquire("tenant-1").await.unwrap().is_checked());
        }
    }
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        task.await.unwrap();
    }

    let [(_, open), (_, closed)] = &limiters;
    assert!(
        open.unchecked.load(Ordering::Relaxed) > 0,
        "fail open let calls through"
    );
    assert_eq!(
        open.unavailable.load(Ordering::Relaxed),
        0,
        "fail open never refuses"
    );
    assert!(
        closed.unavailable.load(Ordering::Relaxed) > 0,
        "fail closed refused"
    );
    assert_eq!(
        closed.unchecked.load(Ordering::Relaxed),
        0,
        "fail closed never lets through"
    );
    let ms = |micros: &AtomicU64| micros.load(Ordering::Relaxed) as f64 / 1000.0;
    for (policy, seen) in [("fail open", open), ("fail closed", closed)] {
        eprintln!(
            "failover ({policy}): first check decided by the policy {:.0} ms after the kill, \
             checked again {:.0} ms after the kill; longest check {:.0} ms",
            ms(&seen.first_failure),
            ms(&seen.recovered),
            ms(&seen.longest),
        );
    }
}
