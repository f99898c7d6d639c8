//! A master of a Redis Cluster dies while 100 duplicates of one request are in flight.
//!
//! The cluster is the test's own (`OwnCluster`, started by `.ci/redis-cluster`), never the
//! shared one of `RESILIENCE_REDIS_CLUSTER_URLS`, so killing a node cannot break the other
//! cluster tests; the test runs wherever those run. It checks what the store promises
//! during a failover: every call ends within its bound (never a hang), calls on the dead
//! master's slots fail with `StoreUnavailable` (or the claim's `IdempotencyConflict`), the
//! handler never runs twice for a key, and new keys succeed once a replica is promoted,
//! with the same store (no restart). It prints the failover's timings.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use resilience_core::ErrorKind;
use resilience_core::idempotency::Commit;
use resilience_core::idempotency::{Claim, IdempotencyStore, Record, RedisStore};
use resilience_test_support::redis::{OwnCluster, Target, key_slot};

use crate::suite::fp;

/// Each store call's timeout.
const TIMEOUT: Duration = Duration::from_millis(500);
/// No call may take longer than this: a claim that timed out is followed by one bounded
/// release (twice the timeout), plus room for a busy machine.
const CALL_BOUND: Duration = Duration::from_secs(5);
/// Long enough that no lease of the test lapses: a second run of a handler could only come
/// from a lost or broken claim, not from a lease expiring.
const LOCK_TTL: Duration = Duration::from_secs(120);
const DAY: Duration = Duration::from_secs(86_400);
const DUPLICATES: usize = 100;

/// What every request of the test shares.
struct Run {
    store: RedisStore,
    started: Instant,
    /// How many times the handler ran, per key index.
    runs: Vec<AtomicU32>,
    /// When the master was killed, in µs since `started` (0 until then).
    killed_at: AtomicU64,
    /// The first failed call after the kill, µs since `started` (0: none yet).
    first_failure: AtomicU64,
    /// The first `StoreUnavailable` after the kill, µs since `started` (0: none yet).
    first_unavailable: AtomicU64,
    /// The longest call, in µs.
    longest_call: AtomicU64,
    unavailable: AtomicU64,
    conflicts: AtomicU64,
}

impl Run {
    fn micros(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_micros()).unwrap_or(u64::MAX)
    }

    /// One store call, bounded; records its duration and failures.
    async fn call<T>(
        &self,
        call: impl Future<Output = Result<T, resilience_core::Error>>,
    ) -> Result<T, resilience_core::Error> {
        let begun = Instant::now();
        let result = tokio::time::timeout(CALL_BOUND, call)
            .await
            .expect("a store call hung past its bound during the failover");
        let took = u64::try_from(begun.elapsed().as_micros()).unwrap_or(u64::MAX);
        self.longest_call.fetch_max(took, Ordering::Relaxed);
        if let Err(err) = &result {
            let since = |first: &AtomicU64| {
                if self.killed_at.load(Ordering::SeqCst) > 0 {
                    let now = self.micros();
                    let _ = first.compare_exchange(0, now, Ordering::SeqCst, Ordering::SeqCst);
                }
            };
            since(&self.first_failure);
            match err.kind() {
                ErrorKind::StoreUnavailable => {
                    self.unavailable.fetch_add(1, Ordering::Relaxed);
                    since(&self.first_unavailable);
                }
                ErrorKind::IdempotencyConflict => {
                    self.conflicts.fetch_add(1, Ordering::Relaxed);
                }
                other => panic!("unexpected failure during the failover: {other:?}: {err:#}"),
            }
        }
        result
    }

    /// One request with key `keys[index]`, retried as a client would until it is answered
    /// with the stored response or `until` passes. Runs the handler if its claim wins.
    /// Returns whether it got the response.
    async fn request(
        &self,
        key: &str,
        index: usize,
        handler: Duration,
        claimed: &tokio::sync::Notify,
        until: Instant,
    ) -> bool {
        while Instant::now() < until {
            match self.call(self.store.claim(key, &fp(1), LOCK_TTL)).await {
                Ok(Claim::Claimed(lease)) => {
                    self.runs[index].fetch_add(1, Ordering::SeqCst);
                    claimed.notify_one();
                    tokio::time::sleep(handler).await;
                    let record = Record::new(201, vec![], Bytes::from(key.to_owned()));
                    // If this fails, the lease stays (replicated) and duplicates wait.
                    let _ = self.call(self.store.complete(lease, record, DAY)).await;
                    return true;
                }
                Ok(Claim::Completed(record)) => {
                    assert_eq!(record.body(), key.as_bytes());
                    return true;
                }
                Ok(Claim::InFlight { .. }) | Err(_) => {}
                Ok(other) => panic!("{key}: {other:?}"),
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        false
    }
}

/// Runs `DUPLICATES` concurrent requests with key `keys[index]`; `claimed` is notified
/// when the handler starts.
fn duplicates(
    run: &Arc<Run>,
    keys: &Arc<Vec<String>>,
    index: usize,
    handler: Duration,
    claimed: &Arc<tokio::sync::Notify>,
    until: Instant,
) -> Vec<tokio::task::JoinHandle<bool>> {
    (0..DUPLICATES)
        .map(|_| {
            let (run, keys, claimed) = (Arc::clone(run), Arc::clone(keys), Arc::clone(claimed));
            tokio::spawn(async move {
                run.request(&keys[index], index, handler, &claimed, until)
                    .await
            })
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_master_dying_under_duplicate_requests_never_runs_the_handler_twice_and_new_keys_succeed_after_promotion()
 {
    // Runs where the cluster tests run (CI), on a cluster of its own.
    let test = "a_master_dying_under_duplicate_requests";
    if Target::cluster_or_skip(test).is_none() {
        return;
    }
    let Some(cluster) = OwnCluster::start(test) else {
        return;
    };
    let prefix = format!("failover:{:016x}:", rand::random::<u64>());
    let store = RedisStore::cluster_builder(cluster.urls().iter().map(String::as_str))
        .prefix(prefix.clone())
        .timeout(TIMEOUT)
        .build()
        .unwrap();
    store.ping().await.unwrap();

    // The victim serves the first key; every key of the test lives on it.
    let victim = cluster.master_of(&format!("{prefix}order-0"));
    let (_, ranges) = cluster
        .masters()
        .into_iter()
        .find(|(port, _)| *port == victim)
        .expect("the victim is a master");
    let keys: Arc<Vec<String>> = Arc::new(
        (0..)
            .map(|i| format!("order-{i}"))
            .filter(|key| {
                let slot = key_slot(format!("{prefix}{key}").as_bytes());
                ranges.iter().any(|range| range.contains(&slot))
            })
            .take(200)
            .collect(),
    );
    let run = Arc::new(Run {
        store,
        started: Instant::now(),
        runs: (0..keys.len()).map(|_| AtomicU32::new(0)).collect(),
        killed_at: AtomicU64::new(0),
        first_failure: AtomicU64::new(0),
        first_unavailable: AtomicU64::new(0),
        longest_call: AtomicU64::new(0),
        unavailable: AtomicU64::new(0),
        conflicts: AtomicU64::new(0),
    });
    let claimed = Arc::new(tokio::sync::Notify::new());

    // 100 duplicates of key 0; its handler takes a while, so the master dies under it.
    let in_flight = duplicates(
        &run,
        &keys,
        0,
        Duration::from_secs(1),
        &claimed,
        Instant::now() + Duration::from_secs(10),
    );
    claimed.notified().await;
    // The lease is on the replica too: what the kill tests is the failover, not the
    // window of Redis's asynchronous replication (see the store's docs).
    let replicated = Arc::new(cluster);
    tokio::task::spawn_blocking({
        let cluster = Arc::clone(&replicated);
        move || cluster.wait_replicated(victim)
    })
    .await
    .unwrap();
    replicated.kill(victim);
    run.killed_at.store(run.micros().max(1), Ordering::SeqCst);

    // A fresh key every 50 ms until one succeeds: the replica has been promoted and the
    // same store found it.
    let mut next = 1;
    let recovered = loop {
        assert!(
            run.started.elapsed() < Duration::from_secs(60),
            "no claim succeeded within 60 s of the kill"
        );
        let key = &keys[next];
        let claim = run.call(run.store.claim(key, &fp(1), LOCK_TTL)).await;
        if let Ok(Claim::Claimed(lease)) = claim {
            run.runs[next].fetch_add(1, Ordering::SeqCst);
            let record = Record::new(201, vec![], Bytes::from(key.clone()));
            let commit = run.call(run.store.complete(lease, record, DAY)).await;
            assert_eq!(
                commit.unwrap(),
                Commit::Done,
                "the promoted master stores it"
            );
            break run.micros();
        }
        next += 1;
        tokio::time::sleep(Duration::from_millis(50)).await;
    };

    // After the promotion, 100 duplicates of a new key: exactly one runs, all get the
    // response.
    next += 1;
    let after = duplicates(
        &run,
        &keys,
        next,
        Duration::from_millis(100),
        &Arc::new(tokio::sync::Notify::new()),
        Instant::now() + Duration::from_secs(20),
    );
    for task in after {
        assert!(
            task.await.unwrap(),
            "a request after the promotion got no response"
        );
    }
    assert_eq!(run.runs[next].load(Ordering::SeqCst), 1);

    // The duplicates of key 0 end by their deadline, answered or still waiting on the
    // lease of the handler whose record could not be stored; never run twice.
    for task in in_flight {
        let _answered = task.await.unwrap();
    }
    for (index, runs) in run.runs.iter().enumerate() {
        let runs = runs.load(Ordering::SeqCst);
        assert!(runs <= 1, "the handler of {} ran {runs} times", keys[index]);
    }
    assert_eq!(run.runs[0].load(Ordering::SeqCst), 1);
    let killed = run.killed_at.load(Ordering::SeqCst);
    let first_unavailable = run.first_unavailable.load(Ordering::SeqCst);
    assert!(
        first_unavailable > 0,
        "no call failed while the master was down"
    );
    let ms = |micros: u64| micros as f64 / 1000.0;
    eprintln!(
        "failover: first failed call {:.0} ms after the kill, first StoreUnavailable {:.0} ms, \
         first new key claimed {:.0} ms after the kill; longest call {:.0} ms; \
         {} StoreUnavailable, {} IdempotencyConflict",
        ms(run.first_failure.load(Ordering::SeqCst) - killed),
        ms(first_unavailable - killed),
        ms(recovered - killed),
        ms(run.longest_call.load(Ordering::Relaxed)),
        run.unavailable.load(Ordering::Relaxed),
        run.conflicts.load(Ordering::Relaxed),
    );
}
