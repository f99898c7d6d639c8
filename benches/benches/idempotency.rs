//! Idempotency stores: claim + complete of a fresh key (what every first request costs) and
//! the replay of a completed key (what a duplicate costs), on one thread.
//!
//! - `memory_sharded`: [`MemoryStore`] as built by default;
//! - `memory_one_lock`: the same with one shard (one mutex around one map);
//! - `moka`: the same claim and complete on `moka::sync::Cache` (per-entry expiry, atomic
//!   `and_compute_with`), the well-kept concurrent cache DESIGN asked to evaluate;
//! - `redis_loopback`: [`RedisStore`] against the Redis at `RESILIENCE_REDIS_URL` (skipped
//!   with a message when unset), with the round trips per call counted from Redis's own
//!   `INFO commandstats`.
//!
//! The memory variants are timed in this thread's CPU time (`iter_custom`), so that other
//! processes preempting the bench on a shared machine inflate the figures less; Redis in
//! wall time, as it waits on the network. Allocations per claim + complete are printed
//! after the timings.

use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use moka::ops::compute::Op;
use moka::sync::Cache;
use resilience_benches::alloc::{INSTRUMENTED_SYSTEM, StatsAlloc, allocations_in};
use resilience_benches::redis_stats::commands_since_reset;
use resilience_core::idempotency::{
    Claim, Commit, Fingerprint, IdempotencyStore, Lease, MemoryStore, Record, RedisStore,
};

#[global_allocator]
static GLOBAL: &StatsAlloc<std::alloc::System> = &INSTRUMENTED_SYSTEM;

const LOCK_TTL: Duration = Duration::from_secs(30);
const TTL: Duration = Duration::from_secs(86_400);
const FINGERPRINT: Fingerprint = Fingerprint::from_bytes([7; 32]);

/// Keys shaped like the UUIDs clients send.
fn keys(n: u64) -> Vec<String> {
    (0..n)
        .map(|i| format!("00000000-0000-4000-8000-{i:012x}"))
        .collect()
}

fn response() -> Record {
    Record::new(
        201,
        vec![(
            "content-type".into(),
            Bytes::from_static(b"application/json"),
        )],
        Bytes::from_static(br#"{"id":"ch_1","amount":1000,"currency":"eur","status":"succeeded"}"#),
    )
}

/// Polls a future that is ready at once (the memory store's are).
fn ready<F: Future>(future: F) -> F::Output {
    match pin!(future).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(output) => output,
        Poll::Pending => unreachable!("memory store futures are ready at once"),
    }
}

fn memory_store(capacity: u64, shards: Option<usize>) -> MemoryStore {
    // Room to spare, so that no shard fills up during a sample.
    let builder = MemoryStore::builder()
        .max_entries(capacity as usize * 4 + 4096)
        .max_bytes(usize::MAX / 2);
    match shards {
        Some(shards) => builder.shards(shards),
        None => builder,
    }
    .build()
    .unwrap()
}

fn memory_claim_complete(store: &MemoryStore, key: &str, record: &Record) {
    let Claim::Claimed(lease) = ready(store.claim(key, &FINGERPRINT, LOCK_TTL)).unwrap() else {
        panic!("fresh key {key} not claimed");
    };
    let commit = ready(store.complete(lease, record.clone(), TTL)).unwrap();
    assert_eq!(commit, Commit::Done);
}

/// The same claim and complete on moka, for the evaluation.
#[derive(Clone)]
struct MokaEntry {
    fingerprint: Fingerprint,
    token: u64,
    ttl: Duration,
    record: Option<Record>,
}

struct PerEntryTtl;

impl moka::Expiry<String, MokaEntry> for PerEntryTtl {
    fn expire_after_create(&self, _: &String, value: &MokaEntry, _: Instant) -> Option<Duration> {
        Some(value.ttl)
    }

    fn expire_after_update(
        &self,
        _: &String,
        value: &MokaEntry,
        _: Instant,
        _: Option<Duration>,
    ) -> Option<Duration> {
        Some(value.ttl)
    }
}

struct MokaStore {
    cache: Cache<String, MokaEntry>,
    next_token: std::sync::atomic::AtomicU64,
}

impl MokaStore {
    fn new(capacity: u64) -> Self {
        Self {
            cache: Cache::builder()
                .max_capacity(capacity * 4 + 4096)
                .expire_after(PerEntryTtl)
                .build(),
            next_token: 0.into(),
        }
    }

    fn claim(&self, key: &str, fingerprint: &Fingerprint, lock_ttl: Duration) -> Claim {
        let token = self
            .next_token
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut answer = None;
        self.cache.entry_by_ref(key).and_compute_with(|existing| {
            let Some(existing) = existing else {
                return Op::Put(MokaEntry {
                    fingerprint: *fingerprint,
                    token,
                    ttl: lock_ttl,
                    record: None,
                });
            };
            let entry = existing.into_value();
            answer = Some(if entry.fingerprint != *fingerprint {
                Claim::Mismatch
            } else if let Some(record) = entry.record {
                Claim::Completed(record)
            } else {
                Claim::InFlight {
                    lease_expires_in: None,
                }
            });
            Op::Nop
        });
        answer.unwrap_or_else(|| Claim::Claimed(Lease::new(key, token, *fingerprint)))
    }

    fn complete(&self, lease: Lease, record: Record, ttl: Duration) -> Commit {
        let mut commit = Commit::Stale;
        self.cache
            .entry_by_ref(lease.key())
            .and_compute_with(|existing| match existing {
                Some(entry)
                    if entry.value().record.is_none() && entry.value().token == lease.token() =>
                {
                    commit = Commit::Done;
                    Op::Put(MokaEntry {
                        fingerprint: *lease.fingerprint(),
                        token: lease.token(),
                        ttl,
                        record: Some(record),
                    })
                }
                _ => Op::Nop,
            });
        commit
    }
}

fn moka_claim_complete(store: &MokaStore, key: &str, record: &Record) {
    let Claim::Claimed(lease) = store.claim(key, &FINGERPRINT, LOCK_TTL) else {
        panic!("fresh key {key} not claimed");
    };
    assert_eq!(store.complete(lease, record.clone(), TTL), Commit::Done);
}

/// Times `iters` claim + complete of fresh keys; the store and keys are made untimed.
fn timed<S>(iters: u64, make: impl FnOnce(u64) -> S, run: impl Fn(&S, &str, &Record)) -> Duration {
    let store = make(iters);
    let keys = keys(iters);
    let record = response();
    let start = cpu_time::ThreadTime::now();
    for key in &keys {
        run(&store, black_box(key), &record);
    }
    let elapsed = start.elapsed();
    drop(store);
    elapsed
}

fn memory(c: &mut Criterion) {
    let mut group = c.benchmark_group("idempotency_claim_complete");
    group.throughput(Throughput::Elements(1));
    group.bench_function("memory_sharded", |b| {
        b.iter_custom(|iters| timed(iters, |n| memory_store(n, None), memory_claim_complete));
    });
    group.bench_function("memory_one_lock", |b| {
        b.iter_custom(|iters| timed(iters, |n| memory_store(n, Some(1)), memory_claim_complete));
    });
    group.bench_function("moka", |b| {
        b.iter_custom(|iters| timed(iters, MokaStore::new, moka_claim_complete));
    });
    group.finish();

    let mut group = c.benchmark_group("idempotency_replay");
    group.throughput(Throughput::Elements(1));
    let store = memory_store(1, None);
    memory_claim_complete(&store, "replayed", &response());
    group.bench_function("memory_sharded", |b| {
        b.iter_custom(|iters| {
            let start = cpu_time::ThreadTime::now();
            for _ in 0..iters {
                black_box(
                    ready(store.claim(black_box("replayed"), &FINGERPRINT, LOCK_TTL)).unwrap(),
                );
            }
            start.elapsed()
        });
    });
    let moka = MokaStore::new(1);
    moka_claim_complete(&moka, "replayed", &response());
    group.bench_function("moka", |b| {
        b.iter_custom(|iters| {
            let start = cpu_time::ThreadTime::now();
            for _ in 0..iters {
                black_box(moka.claim(black_box("replayed"), &FINGERPRINT, LOCK_TTL));
            }
            start.elapsed()
        });
    });
    group.finish();

    const N: u64 = 10_000;
    let record = response();
    let per_call = |name: &str, allocations: u64| {
        println!("allocations per claim + complete, {name}: {allocations}");
    };
    let (store, keys) = (memory_store(N, None), keys(N));
    let mut next = keys.iter();
    per_call(
        "memory_sharded",
        allocations_in(GLOBAL, N, || {
            memory_claim_complete(&store, next.next().unwrap(), &record);
        }),
    );
    let (store, mut next) = (MokaStore::new(N), keys.iter());
    per_call(
        "moka",
        allocations_in(GLOBAL, N, || {
            moka_claim_complete(&store, next.next().unwrap(), &record);
        }),
    );
}

fn redis(c: &mut Criterion) {
    let Ok(url) = std::env::var("RESILIENCE_REDIS_URL") else {
        eprintln!(
            "skipping idempotency_claim_complete/redis_loopback: set RESILIENCE_REDIS_URL=redis://127.0.0.1:6379/"
        );
        return;
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let prefix = format!("resilience-bench:{:016x}:", std::process::id());
    let store = RedisStore::builder(url.as_str())
        .prefix(prefix)
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let record = response();
    let round = std::sync::atomic::AtomicU64::new(0);
    let claim_complete = |key: &str| {
        let store = &store;
        let record = record.clone();
        let key = key.to_owned();
        async move {
            let Claim::Claimed(lease) = store.claim(&key, &FINGERPRINT, LOCK_TTL).await.unwrap()
            else {
                panic!("fresh key {key} not claimed");
            };
            assert_eq!(
                store
                    .complete(lease, record, Duration::from_secs(60))
                    .await
                    .unwrap(),
                Commit::Done
            );
        }
    };

    let mut group = c.benchmark_group("idempotency_claim_complete");
    group.throughput(Throughput::Elements(1));
    group.bench_function("redis_loopback", |b| {
        b.iter_custom(|iters| {
            let round = round.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let keys: Vec<String> = (0..iters).map(|i| format!("{round}-{i}")).collect();
            runtime.block_on(async {
                let start = Instant::now();
                for key in &keys {
                    claim_complete(key).await;
                }
                start.elapsed()
            })
        });
    });
    group.finish();

    // Round trips per call, as Redis counts the commands it ran.
    runtime.block_on(async {
        let client = redis::Client::open(url.as_str()).unwrap();
        let mut admin = client.get_multiplexed_async_connection().await.unwrap();
        const N: u64 = 1_000;
        let mut leases = Vec::new();
        let () = redis::cmd("CONFIG").arg("RESETSTAT").query_async(&mut admin).await.unwrap();
        for i in 0..N {
            match store.claim(&format!("rt-{i}"), &FINGERPRINT, LOCK_TTL).await.unwrap() {
                Claim::Claimed(lease) => leases.push(lease),
                other => panic!("{other:?}"),
            }
        }
        let (claims, claims_inside) = commands_since_reset(&mut admin).await;
        let () = redis::cmd("CONFIG").arg("RESETSTAT").query_async(&mut admin).await.unwrap();
        for lease in leases {
            let _ = store.complete(lease, record.clone(), Duration::from_secs(60)).await.unwrap();
        }
        let (completes, completes_inside) = commands_since_reset(&mut admin).await;
        let per = |count: u64| count as f64 / N as f64;
        println!(
            "redis round trips per request: claim {:.2} (running {:.2} commands inside its script), \
             complete {:.2} (running {:.2} inside)",
            per(claims),
            per(claims_inside),
            per(completes),
            per(completes_inside),
        );
    });
}

criterion_group!(benches, memory, redis);
criterion_main!(benches);
