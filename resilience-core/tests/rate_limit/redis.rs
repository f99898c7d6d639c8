//! The Redis limiter against a real Redis (`RESILIENCE_REDIS_URL`) and a Redis Cluster
//! (`RESILIENCE_REDIS_CLUSTER_URLS`), each test written once for both: one global limit for
//! two instances, waiting, keys, the local pre-check; and Redis down, hung or answering
//! garbage, under each failure policy. A master failing over is in `failover.rs`.

use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use resilience_core::rate_limit::{
    FIELD_LIMIT, RedisRateLimiter, RedisRateLimiterBuilder, StoreFailure,
};
use resilience_core::telemetry::metric;
use resilience_core::{ErrorKind, FieldValue, Primitive};
use resilience_test_support::against_node_and_cluster;
use resilience_test_support::redis::{Target, fake_redis};

/// A prefix no other test (or test run) uses, so tests share one Redis safely.
fn unique_prefix() -> String {
    format!("resilience-test:{:016x}:", rand::random::<u64>())
}

/// A builder for a limiter on `target`, one node or a cluster.
pub(crate) fn builder(target: &Target) -> RedisRateLimiterBuilder {
    match target {
        Target::Node(url) => RedisRateLimiter::builder(url.as_str()),
        Target::Cluster(nodes) => {
            RedisRateLimiter::cluster_builder(nodes.iter().map(String::as_str))
        }
    }
}

fn limiter(target: &Target, prefix: &str) -> RedisRateLimiterBuilder {
    builder(target)
        .name("api")
        .prefix(prefix)
        // Generous: the machine running the tests may be busy; outage tests set their own.
        .timeout(Duration::from_secs(5))
}

against_node_and_cluster! {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    two_instances_sharing_redis_enforce_one_global_limit,
    #[tokio::test] a_refusal_says_when_to_come_back_and_what_the_limit_is,
    #[tokio::test] a_caller_allowed_to_wait_books_its_turn_in_redis,
    #[tokio::test] keys_are_hash_tagged_and_expire_when_their_bucket_is_full,
    #[tokio::test] the_local_precheck_refuses_a_known_exhausted_key_without_asking_redis,
    #[tokio::test] a_foreign_value_under_the_key_is_a_store_failure_not_a_misread,
}

async fn two_instances_sharing_redis_enforce_one_global_limit(target: Target) {
    const RATE: f64 = 100.0;
    const BURST: u32 = 20;
    const RUN: Duration = Duration::from_secs(2);
    let prefix = unique_prefix();
    // Two app instances: separate limiters, separate connections, one Redis.
    let instances: Vec<RedisRateLimiter> = (0..2)
        .map(|_| {
            limiter(&target, &prefix)
                .rate(RATE)
                .burst(BURST)
                .build()
                .unwrap()
        })
        .collect();
    for instance in &instances {
        instance.ping().await.unwrap();
    }
    let admitted = Arc::new(AtomicU64::new(0));
    let checks = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let stop = started + RUN;
    let mut tasks = Vec::new();
    for instance in &instances {
        for _ in 0..8 {
            let (instance, admitted, checks) =
                (instance.clone(), Arc::clone(&admitted), Arc::clone(&checks));
            tasks.push(tokio::spawn(async move {
                while Instant::now() < stop {
                    let grant = instance.try_acquire("tenant-1").await;
                    checks.fetch_add(1, Ordering::Relaxed);
                    match grant {
                        Ok(grant) => {
                            assert!(grant.is_checked(), "redis answered");
                            admitted.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(err) => assert_eq!(err.kind(), ErrorKind::RateLimited, "{err:#}"),
                    }
                }
            }));
        }
    }
    for task in tasks {
        task.await.unwrap();
    }
    let outer = started.elapsed();
    let admitted = admitted.load(Ordering::Relaxed) as f64;
    let checks = checks.load(Ordering::Relaxed) as f64;
    let ceiling = f64::from(BURST) + RATE * outer.as_secs_f64() + 1.0;
    let saturated = f64::from(BURST) + RATE * RUN.as_secs_f64();
    assert!(
        checks > 2.0 * ceiling,
        "{checks} checks: not enough to saturate the limit"
    );
    assert!(
        admitted <= ceiling,
        "{admitted} admitted across both instances, limit {ceiling:.1} over {outer:?}"
    );
    assert!(
        admitted >= 0.95 * saturated,
        "{admitted} admitted, less than 95% of {saturated}"
    );
}

async fn a_refusal_says_when_to_come_back_and_what_the_limit_is(target: Target) {
    let limiter = limiter(&target, &unique_prefix())
        .limit(2, Duration::from_secs(60))
        .build()
        .unwrap();
    assert_eq!(limiter.try_acquire("k").await.unwrap().remaining(), 1);
    let grant = limiter.try_acquire("k").await.unwrap();
    assert_eq!(grant.remaining(), 0);
    assert!(grant.reset() > Duration::from_secs(59) && grant.reset() <= Duration::from_secs(60));
    let err = limiter.try_acquire("k").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::RateLimited);
    assert_eq!(err.primitive(), Some(Primitive::RateLimit));
    assert_eq!(err.instance(), Some("api"));
    let retry = err.retry_after().expect("a hint");
    assert!(
        retry > Duration::from_secs(29) && retry <= Duration::from_secs(30),
        "{retry:?}"
    );
    assert_eq!(err.field(FIELD_LIMIT), Some(&FieldValue::U64(2)));
    // Another key has its own limit; a weighted request beyond the burst never goes out.
    assert!(limiter.try_acquire("other").await.is_ok());
    let err = limiter.try_acquire_n("other", 3).await.unwrap_err();
    assert_eq!(err.retry_after(), None);
}

async fn a_caller_allowed_to_wait_books_its_turn_in_redis(target: Target) {
    let prefix = unique_prefix();
    let limiter = limiter(&target, &prefix)
        .rate(20.0)
        .burst(1)
        .max_wait(Duration::from_secs(2))
        .build()
        .unwrap();
    assert_eq!(limiter.acquire(&()).await.unwrap().waited(), Duration::ZERO);
    let grant = limiter.acquire(&()).await.unwrap();
    assert!(grant.waited() > Duration::ZERO, "{grant:?}");
    assert!(grant.is_checked());
    // The turn was booked: an impatient caller now finds no room.
    let impatient = builder(&target)
        .name("api")
        .prefix(prefix)
        .rate(20.0)
        .burst(1)
        .build()
        .unwrap();
    let _booked = limiter.acquire(&());
    assert!(impatient.try_acquire(&()).await.is_err());
}

async fn keys_are_hash_tagged_and_expire_when_their_bucket_is_full(target: Target) {
    let prefix = unique_prefix();
    let limiter = limiter(&target, &prefix)
        .limit(10, Duration::from_secs(10))
        .build()
        .unwrap();
    limiter.try_acquire("user:{7}").await.unwrap();
    let key = limiter.redis_key("user:{7}");
    let text = String::from_utf8(key.clone()).unwrap();
    assert!(text.starts_with(&format!("{prefix}{{api:~")), "{text}");
    assert_eq!(text.matches('{').count(), 1, "{text}: one hash tag");
    let pttl: i64 = target.query(redis::cmd("PTTL").arg(&key)).await;
    assert!(
        pttl > 0 && pttl <= 1_000,
        "one unit refills in a second: {pttl}"
    );
}

async fn the_local_precheck_refuses_a_known_exhausted_key_without_asking_redis(target: Target) {
    let prefix = unique_prefix();
    let build = |precheck| {
        limiter(&target, &prefix)
            .limit(1, Duration::from_secs(60))
            .local_precheck(precheck)
            .build()
            .unwrap()
    };
    let checked = build(100);
    checked.try_acquire("hot").await.unwrap();
    let first = checked.try_acquire("hot").await.unwrap_err();
    // Redis forgets the key; only the local pre-check still knows it is exhausted.
    let () = target
        .query(redis::cmd("DEL").arg(checked.redis_key("hot")))
        .await;
    let local = checked.try_acquire("hot").await.unwrap_err();
    assert_eq!(local.kind(), ErrorKind::RateLimited);
    assert!(local.retry_after() <= first.retry_after());
    // Without the pre-check, the same request goes to Redis, which admits it.
    assert!(build(0).try_acquire("hot").await.is_ok());
}

async fn a_foreign_value_under_the_key_is_a_store_failure_not_a_misread(target: Target) {
    let prefix = unique_prefix();
    let closed = limiter(&target, &prefix)
        .rate(1.0)
        .on_store_failure(StoreFailure::FailClosed)
        .build()
        .unwrap();
    let () = target
        .query(
            redis::cmd("SET")
                .arg(closed.redis_key("k"))
                .arg("not a number"),
        )
        .await;
    let err = closed.try_acquire("k").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::StoreUnavailable, "{err:#}");
    assert!(format!("{err:#}").contains("not a number"), "{err:#}");
    let open = limiter(&target, &prefix).rate(1.0).build().unwrap();
    assert!(!open.try_acquire("k").await.unwrap().is_checked());
}

/// Both policies against a broken Redis at `url`, taken as one node and as the only seed
/// of a cluster: each check ends within the timeout (the outer bound only keeps a broken
/// implementation from hanging the run) in the configured way.
async fn assert_policies_hold(url: &str) {
    for target in [
        Target::Node(url.to_owned()),
        Target::Cluster(vec![url.to_owned()]),
    ] {
        assert_policies_hold_on(&target).await;
    }
}

async fn assert_policies_hold_on(target: &Target) {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let build = |policy| {
        builder(target)
            .name("broken")
            .rate(10.0)
            .timeout(Duration::from_millis(200))
            .on_store_failure(policy)
            .build()
            .unwrap()
    };
    let (open, closed) = metrics::with_local_recorder(&recorder, || {
        (
            build(StoreFailure::FailOpen),
            build(StoreFailure::FailClosed),
        )
    });
    tokio::time::timeout(Duration::from_secs(30), async {
        for _ in 0..2 {
            let grant = open
                .try_acquire("k")
                .await
                .expect("fail open lets it through");
            assert!(!grant.is_checked());
            let err = closed.try_acquire("k").await.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::StoreUnavailable, "{err:#}");
            assert!(err.is_rejection());
            assert_eq!(err.instance(), Some("broken"));
            assert!(std::error::Error::source(&err).is_some(), "{err:#}");
        }
        assert_eq!(
            closed.ping().await.unwrap_err().kind(),
            ErrorKind::StoreUnavailable
        );
    })
    .await
    .unwrap_or_else(|_| panic!("{target:?}: every check is bounded by the limiter's timeout"));
    let errors: u64 = snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .filter(|(key, ..)| key.key().name() == metric::RATE_LIMIT_STORE_ERRORS_TOTAL)
        .map(|(.., value)| match value {
            DebugValue::Counter(n) => n,
            other => panic!("{other:?}"),
        })
        .sum();
    assert_eq!(errors, 5, "{target:?}: four checks and a ping failed");
}

#[tokio::test]
async fn redis_down_is_decided_by_the_failure_policy() {
    // A port that was free a moment ago: nothing listens there.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    assert_policies_hold(&format!("redis://127.0.0.1:{port}/")).await;
}

#[tokio::test]
async fn a_hung_redis_is_decided_by_the_failure_policy_within_the_timeout() {
    let (url, server) = fake_redis(None).await;
    assert_policies_hold(&url).await;
    server.abort();
}

#[tokio::test]
async fn a_redis_answering_garbage_is_decided_by_the_failure_policy() {
    // A well-formed reply the script never gives, then bytes that are not RESP at all.
    for reply in [&b"+GARBAGE\r\n"[..], b"\x00\x01 not redis\r\n"] {
        let (url, server) = fake_redis(Some(reply)).await;
        assert_policies_hold(&url).await;
        server.abort();
    }
}
