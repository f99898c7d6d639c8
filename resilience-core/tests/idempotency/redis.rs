//! The Redis store: the shared suite against a real Redis (`RESILIENCE_REDIS_URL`) and a
//! Redis Cluster (`RESILIENCE_REDIS_CLUSTER_URLS`), then what only Redis has, on both:
//! prefixes, foreign values, two instances; and outages (closed port, hung server, a
//! server stopped mid-test). A master failing over is in `failover.rs`.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use bytes::Bytes;
use resilience_core::idempotency::{
    Claim, Commit, IdempotencyStore, Record, RedisStore, RedisStoreBuilder,
};
use resilience_test_support::against_node_and_cluster;
use resilience_test_support::redis::{REQUIRE_REDIS_VAR, Target, redis_url_or_skip};

use crate::suite::{DAY, LOCK_TTL, assert_unavailable, claimed, fp, record};

/// A prefix no other test (or test run) uses, so tests share one Redis safely.
fn unique_prefix() -> String {
    format!("resilience-test:{:016x}:", rand::random::<u64>())
}

/// A loopback port that was free a moment ago: nothing listens there.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A builder for a store on `target`, one node or a cluster.
pub(crate) fn builder(target: &Target) -> RedisStoreBuilder {
    match target {
        Target::Node(url) => RedisStore::builder(url.as_str()),
        Target::Cluster(nodes) => RedisStore::cluster_builder(nodes.iter().map(String::as_str)),
    }
}

fn store_on(target: &Target) -> RedisStore {
    builder(target)
        .prefix(unique_prefix())
        // Generous: the machine running the tests may be busy; outage tests set their own.
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap()
}

async fn make() -> Option<RedisStore> {
    Target::node_or_skip("redis store suite").map(|target| store_on(&target))
}

async fn make_on_cluster() -> Option<RedisStore> {
    Target::cluster_or_skip("redis store suite on a cluster").map(|target| store_on(&target))
}

mod shared_suite {
    store_suite!(super::make, #[tokio::test]);
}

mod shared_suite_on_cluster {
    store_suite!(super::make_on_cluster, #[tokio::test]);
}

against_node_and_cluster! {
    #[tokio::test] keys_live_under_the_prefix_with_redis_enforcing_the_lock_ttl,
    #[tokio::test] a_value_of_an_unknown_format_is_refused_clearly,
    #[tokio::test] two_stores_on_one_redis_see_each_others_keys,
    #[tokio::test] keys_spread_over_the_slots_of_a_cluster,
}

async fn keys_live_under_the_prefix_with_redis_enforcing_the_lock_ttl(target: Target) {
    let store = store_on(&target);
    assert_eq!(store.is_cluster(), target.is_cluster());
    claimed(&store, "ключ", 1).await;

    let mut key = store.prefix().to_vec();
    key.extend_from_slice("ключ".as_bytes());
    let pttl: i64 = target.query(redis::cmd("PTTL").arg(&key)).await;
    assert!(pttl > 0 && pttl <= LOCK_TTL.as_millis() as i64, "{pttl}");

    // Another prefix is another namespace.
    let other = store_on(&target);
    claimed(&other, "ключ", 2).await;
}

async fn a_value_of_an_unknown_format_is_refused_clearly(target: Target) {
    let store = store_on(&target);
    // Same fingerprint where the scripts look for it, but a version this release does not know.
    let mut value = vec![9, b'R'];
    value.extend_from_slice(fp(1).as_bytes());
    let mut key = store.prefix().to_vec();
    key.extend_from_slice(b"k");
    let () = target.query(redis::cmd("SET").arg(&key).arg(value)).await;

    let err = store.claim("k", &fp(1), LOCK_TTL).await.unwrap_err();
    assert_unavailable(&err);
    let source = std::error::Error::source(&err).expect("the decoding error is the source");
    assert!(source.to_string().contains("version"), "{source}");
}

/// Keys are not hash-tagged together: each store call touches one key (so one slot, as
/// a cluster requires), and a store's keys spread over every master instead of loading
/// one. Every call still reaches the node that serves its key.
async fn keys_spread_over_the_slots_of_a_cluster(target: Target) {
    let store = store_on(&target);
    let keys: Vec<String> = (0..32).map(|i| format!("order-{i}")).collect();
    for key in &keys {
        let lease = claimed(&store, key, 1).await;
        let stored = Record::new(200, vec![], Bytes::from(key.clone()));
        assert_eq!(
            store.complete(lease, stored, DAY).await.unwrap(),
            Commit::Done
        );
    }
    let mut slots = std::collections::HashSet::new();
    for key in &keys {
        match store.claim(key, &fp(1), LOCK_TTL).await.unwrap() {
            Claim::Completed(record) => assert_eq!(record.body(), key.as_bytes()),
            other => panic!("{key}: {other:?}"),
        }
        if target.is_cluster() {
            let mut redis_key = store.prefix().to_vec();
            redis_key.extend_from_slice(key.as_bytes());
            let slot: u16 = target
                .query(redis::cmd("CLUSTER").arg("KEYSLOT").arg(redis_key))
                .await;
            slots.insert(slot);
        }
    }
    if target.is_cluster() {
        assert!(slots.len() > 16, "{} slots for 32 keys", slots.len());
    }
}

#[tokio::test]
async fn an_unreachable_redis_is_store_unavailable_not_a_panic() {
    let port = free_port();
    let url = format!("redis://127.0.0.1:{port}/");
    for target in [Target::Node(url.clone()), Target::Cluster(vec![url])] {
        unreachable_calls_fail_cleanly(&target).await;
    }
}

async fn unreachable_calls_fail_cleanly(target: &Target) {
    let store = builder(target).name("orders").build().unwrap();
    for _ in 0..2 {
        let err = store.claim("k", &fp(1), LOCK_TTL).await.unwrap_err();
        assert_unavailable(&err);
        assert_eq!(err.instance(), Some("orders"));
        assert!(std::error::Error::source(&err).is_some(), "{err:#}");
    }
    let lease = resilience_core::idempotency::Lease::new("k", 7, fp(1));
    assert_unavailable(
        &store
            .complete(lease.clone(), record(b"x"), DAY)
            .await
            .unwrap_err(),
    );
    assert_unavailable(&store.release(lease).await.unwrap_err());
    assert_unavailable(&store.ping().await.unwrap_err());
}

#[tokio::test]
async fn a_hung_redis_costs_each_call_at_most_the_timeout() {
    // Accepts connections and never answers.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let held = tokio::spawn(async move {
        let mut sockets = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            sockets.push(socket);
        }
    });
    let url = format!("redis://127.0.0.1:{port}/");
    // As one node, and as the only seed of a cluster (discovery hangs).
    for target in [Target::Node(url.clone()), Target::Cluster(vec![url])] {
        let store = builder(&target)
            .timeout(Duration::from_millis(100))
            .build()
            .unwrap();
        // The outer bound only keeps a broken implementation from hanging the test run.
        let outcome = tokio::time::timeout(Duration::from_secs(30), async {
            let claim = store.claim("k", &fp(1), LOCK_TTL).await.unwrap_err();
            let lease = resilience_core::idempotency::Lease::new("k", 7, fp(1));
            let complete = store.complete(lease, record(b"x"), DAY).await.unwrap_err();
            (claim, complete)
        })
        .await
        .unwrap_or_else(|_| panic!("{target:?}: every call is bounded by the store's timeout"));
        assert_unavailable(&outcome.0);
        assert_unavailable(&outcome.1);
    }
    held.abort();
}

/// A seed that is down does not keep the store from finding the cluster through the
/// others.
#[tokio::test]
async fn a_cluster_is_found_through_any_live_seed() {
    let Some(Target::Cluster(live)) =
        Target::cluster_or_skip("a_cluster_is_found_through_any_live_seed")
    else {
        return;
    };
    let port = free_port();
    let mut seeds = vec![format!("redis://127.0.0.1:{port}/")];
    seeds.extend(live);
    let store = store_on(&Target::Cluster(seeds));
    store.ping().await.unwrap();
    claimed(&store, "k", 1).await;
}

/// A redis-server of the test's own, killed when dropped.
struct OwnRedis {
    child: Child,
    port: u16,
}

impl OwnRedis {
    fn start(port: u16) -> Option<Self> {
        let spawned = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        match spawned {
            Ok(child) => Some(Self { child, port }),
            Err(err) => {
                assert!(
                    std::env::var(REQUIRE_REDIS_VAR).as_deref() != Ok("1"),
                    "redis-server could not be started: {err}"
                );
                eprintln!("skipping: redis-server could not be started: {err}");
                None
            }
        }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    async fn wait_until_up(&self) {
        let client = redis::Client::open(self.url()).unwrap();
        for _ in 0..200 {
            if let Ok(mut conn) = client.get_multiplexed_async_connection().await {
                if redis::cmd("PING")
                    .query_async::<()>(&mut conn)
                    .await
                    .is_ok()
                {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("redis-server on port {} did not come up", self.port);
    }

    fn stop(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn redis_stopped_mid_test_fails_calls_cleanly_and_the_store_recovers() {
    if redis_url_or_skip("redis_stopped_mid_test").is_none() {
        return;
    }
    let port = free_port();
    let Some(server) = OwnRedis::start(port) else {
        return;
    };
    server.wait_until_up().await;
    let store = RedisStore::builder(server.url())
        .timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    store.ping().await.unwrap();
    let lease = claimed(&store, "before", 1).await;

    server.stop();
    let err = store.claim("during", &fp(1), LOCK_TTL).await.unwrap_err();
    assert_unavailable(&err);
    assert!(std::error::Error::source(&err).is_some(), "{err:#}");
    assert_unavailable(&store.complete(lease, record(b"x"), DAY).await.unwrap_err());

    // Back up (empty: no persistence), the same store reconnects by itself.
    let server = OwnRedis::start(port).expect("started once already");
    server.wait_until_up().await;
    let mut recovered = None;
    for _ in 0..50 {
        match store.claim("after", &fp(1), LOCK_TTL).await {
            Ok(claim) => {
                recovered = Some(claim);
                break;
            }
            Err(err) => assert_unavailable(&err),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        matches!(recovered, Some(Claim::Claimed(_))),
        "{recovered:?}"
    );
    drop(server);
}

async fn two_stores_on_one_redis_see_each_others_keys(target: Target) {
    let prefix = unique_prefix();
    let first = builder(&target).prefix(prefix.clone()).build().unwrap();
    let second = builder(&target).prefix(prefix).build().unwrap();
    let lease = claimed(&first, "k", 1).await;
    assert!(matches!(
        second.claim("k", &fp(1), LOCK_TTL).await.unwrap(),
        Claim::InFlight { .. }
    ));
    let stored = Record::new(200, vec![], Bytes::from_static(b"from the first instance"));
    assert_eq!(
        first.complete(lease, stored.clone(), DAY).await.unwrap(),
        Commit::Done
    );
    assert_eq!(
        second.claim("k", &fp(1), LOCK_TTL).await.unwrap(),
        Claim::Completed(stored)
    );
}

/// A proxy in front of a Redis that forwards every request at once and, when armed,
/// holds back the next response for `delay`: a claim that Redis applies but whose answer
/// reaches the client after its timeout.
struct SlowAnswers {
    port: u16,
    armed: std::sync::Arc<std::sync::atomic::AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl SlowAnswers {
    async fn start(upstream: &str, delay: Duration) -> Self {
        use std::sync::atomic::Ordering::SeqCst;
        use tokio::io::{AsyncReadExt, AsyncWriteExt};

        let upstream = upstream
            .trim_start_matches("redis://")
            .trim_end_matches('/')
            .to_owned();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let armed = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = armed.clone();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let server = tokio::net::TcpStream::connect(&upstream).await.unwrap();
                let (mut client_read, mut client_write) = client.into_split();
                let (mut server_read, mut server_write) = server.into_split();
                tokio::spawn(async move {
                    let _ = tokio::io::copy(&mut client_read, &mut server_write).await;
                });
                let flag = flag.clone();
                tokio::spawn(async move {
                    let mut buf = vec![0; 64 << 10];
                    while let Ok(n) = server_read.read(&mut buf).await {
                        if n == 0 {
                            break;
                        }
                        if flag.swap(false, SeqCst) {
                            tokio::time::sleep(delay).await;
                        }
                        if client_write.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                });
            }
        });
        Self { port, armed, task }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    fn delay_next_answer(&self) {
        self.armed.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Drop for SlowAnswers {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A store behind the proxy, with a 300 ms timeout; its connection and scripts are set
/// up, so that the next call is one `EVALSHA` and one answer.
async fn behind(proxy: &SlowAnswers, prefix: &str) -> RedisStore {
    let store = RedisStore::builder(proxy.url())
        .prefix(prefix)
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    store.ping().await.unwrap();
    let warm = claimed(&store, "warm-up", 1).await;
    let _ = store.release(warm).await.unwrap();
    store
}

/// Claims `key` through `proxy` with the answer held back past the store's timeout; the
/// claim fails with `IdempotencyConflict`.
async fn claim_with_a_late_answer(
    proxy: &SlowAnswers,
    store: &RedisStore,
    key: &str,
) -> resilience_core::Error {
    proxy.delay_next_answer();
    let err = store
        .claim(key, &fp(1), Duration::from_secs(60))
        .await
        .unwrap_err();
    assert_eq!(
        err.kind(),
        resilience_core::ErrorKind::IdempotencyConflict,
        "{err:#}"
    );
    err
}

/// The claim reaches Redis, its answer does not reach the client in time. Before, its
/// lease then locked the key for the whole lock TTL (every retry got 409 for a minute);
/// now the store gives it up at once.
#[tokio::test]
async fn a_claim_that_timed_out_gives_its_lease_up_and_the_key_is_free_again() {
    let Some(url) = redis_url_or_skip("a_claim_that_timed_out_gives_its_lease_up") else {
        return;
    };
    let proxy = SlowAnswers::start(&url, Duration::from_millis(450)).await;
    let prefix = unique_prefix();
    let store = behind(&proxy, &prefix).await;

    let err = claim_with_a_late_answer(&proxy, &store, "k").await;
    assert_eq!(err.retry_after(), Some(Duration::from_secs(1)), "{err:#}");

    // The key is free: a retry claims it (through Redis directly, no delay).
    let direct = RedisStore::builder(url.as_str())
        .prefix(prefix)
        .build()
        .unwrap();
    claimed(&direct, "k", 1).await;
}

/// Another request holds the key: the timed-out claim leaves it alone and says how long
/// that request's lease has left.
#[tokio::test]
async fn a_claim_that_timed_out_on_a_held_key_says_how_long_the_holder_has_left() {
    let Some(url) = redis_url_or_skip("a_claim_that_timed_out_on_a_held_key") else {
        return;
    };
    let proxy = SlowAnswers::start(&url, Duration::from_millis(450)).await;
    let prefix = unique_prefix();
    let store = behind(&proxy, &prefix).await;
    let direct = RedisStore::builder(url.as_str())
        .prefix(prefix)
        .build()
        .unwrap();
    let holder = match direct
        .claim("k", &fp(1), Duration::from_secs(30))
        .await
        .unwrap()
    {
        Claim::Claimed(lease) => lease,
        other => panic!("{other:?}"),
    };

    let err = claim_with_a_late_answer(&proxy, &store, "k").await;
    let left = err.retry_after().expect("a hint");
    assert!(
        left > Duration::from_secs(25) && left <= Duration::from_secs(30),
        "{left:?}"
    );
    // The holder's lease is untouched.
    assert_eq!(direct.release(holder).await.unwrap(), Commit::Done);
}
