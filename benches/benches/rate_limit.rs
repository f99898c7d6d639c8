//! Rate limiters: the local check (unkeyed and keyed) in CPU time, and the Redis limiter's
//! checks per second next to a plain Redis round trip (`PING`) on the same machine.
//!
//! - `rate_limit_local`: `RateLimiter::try_acquire`, `KeyedRateLimiter::try_acquire` over
//!   1,024 known keys, and over fresh keys in a full table (the eviction path); timed in
//!   this thread's CPU time, so a busy shared machine inflates them less.
//! - `rate_limit_redis`: against the Redis at `RESILIENCE_REDIS_URL` (skipped with a message
//!   when unset), in wall time: one check or one `PING` at a time, then 32 in flight on one
//!   multiplexed connection. The limit is high enough that every check is admitted. The
//!   round trips per check are counted from Redis's own `INFO commandstats` and printed.
//!
//! Read checks per second from the `thrpt` lines (`elem/s`).

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use resilience_benches::redis_stats::commands_since_reset;
use resilience_core::rate_limit::{KeyedRateLimiter, RateLimiter, RedisRateLimiter};

const IN_FLIGHT: u64 = 32;

/// `iters` runs of `f`, in this thread's CPU time.
fn cpu_time(iters: u64, mut f: impl FnMut(u64)) -> Duration {
    let start = cpu_time::ThreadTime::now();
    for i in 0..iters {
        f(i);
    }
    start.elapsed()
}

fn local(c: &mut Criterion) {
    let mut group = c.benchmark_group("rate_limit_local");
    group.throughput(Throughput::Elements(1));

    let limiter = RateLimiter::builder().rate(1e9).build().unwrap();
    group.bench_function("try_acquire", |b| {
        b.iter_custom(|iters| cpu_time(iters, |_| drop(black_box(limiter.try_acquire()))));
    });

    let keyed = KeyedRateLimiter::<u64>::builder()
        .rate(1e9)
        .build()
        .unwrap();
    group.bench_function("keyed_known_key", |b| {
        b.iter_custom(|iters| cpu_time(iters, |i| drop(black_box(keyed.try_acquire(&(i % 1024))))));
    });

    // Every key new, the table full of active keys: the path a flood of new clients takes.
    let full = KeyedRateLimiter::<u64>::builder()
        .rate(1e-3)
        .burst(1)
        .max_keys(10_000)
        .build()
        .unwrap();
    let mut next = 0_u64;
    group.bench_function("keyed_new_key_table_full", |b| {
        b.iter_custom(|iters| {
            cpu_time(iters, |_| {
                next += 1;
                drop(black_box(full.try_acquire(&next)));
            })
        });
    });
    group.finish();
}

fn redis(c: &mut Criterion) {
    let Ok(url) = std::env::var("RESILIENCE_REDIS_URL") else {
        eprintln!("skipping rate_limit_redis: set RESILIENCE_REDIS_URL=redis://127.0.0.1:6379/");
        return;
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let limiter = RedisRateLimiter::builder(url.as_str())
        .name("bench")
        .prefix(format!("resilience-bench:{:016x}:", std::process::id()))
        .rate(1e6)
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let client = redis::Client::open(url.as_str()).unwrap();
    let mut conn = runtime
        .block_on(client.get_multiplexed_async_connection())
        .unwrap();
    runtime.block_on(limiter.ping()).unwrap();

    let mut group = c.benchmark_group("rate_limit_redis");
    group.throughput(Throughput::Elements(1));
    group.bench_function("ping", |b| {
        b.iter_custom(|iters| {
            runtime.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    let () = redis::cmd("PING").query_async(&mut conn).await.unwrap();
                }
                start.elapsed()
            })
        });
    });
    group.bench_function("check", |b| {
        b.iter_custom(|iters| {
            runtime.block_on(async {
                let start = Instant::now();
                for i in 0..iters {
                    let grant = limiter.try_acquire(&(i % 1024)).await.unwrap();
                    assert!(grant.is_checked());
                }
                start.elapsed()
            })
        });
    });
    group.bench_function("ping_32_in_flight", |b| {
        b.iter_custom(|iters| {
            runtime.block_on(in_flight(iters, |_| {
                let mut conn = conn.clone();
                async move {
                    let () = redis::cmd("PING").query_async(&mut conn).await.unwrap();
                }
            }))
        });
    });
    group.bench_function("check_32_in_flight", |b| {
        b.iter_custom(|iters| {
            runtime.block_on(in_flight(iters, |i| {
                let acquire = limiter.try_acquire(&(i % 1024));
                async move {
                    assert!(acquire.await.unwrap().is_checked());
                }
            }))
        });
    });
    group.finish();

    runtime.block_on(async {
        const N: u64 = 1_000;
        let () = redis::cmd("CONFIG")
            .arg("RESETSTAT")
            .query_async(&mut conn)
            .await
            .unwrap();
        for i in 0..N {
            limiter.try_acquire(&i).await.unwrap();
        }
        let (sent, inside) = commands_since_reset(&mut conn).await;
        println!(
            "redis round trips per rate limit check: {:.2} (running {:.2} commands inside its script)",
            sent as f64 / N as f64,
            inside as f64 / N as f64,
        );
    });
}

/// Runs `iters` operations made by `op`, at most [`IN_FLIGHT`] at once; the wall time.
async fn in_flight<F: Future<Output = ()> + Send + 'static>(
    iters: u64,
    op: impl Fn(u64) -> F,
) -> Duration {
    let start = Instant::now();
    let mut running = tokio::task::JoinSet::new();
    for i in 0..iters {
        if running.len() as u64 >= IN_FLIGHT {
            running.join_next().await.unwrap().unwrap();
        }
        running.spawn(op(i));
    }
    while let Some(done) = running.join_next().await {
        done.unwrap();
    }
    start.elapsed()
}

criterion_group!(benches, local, redis);
criterion_main!(benches);
