//! Circuit breaker, closed path, success: the core check (acquire + record) and the tower
//! layer around a trivial ready service, alone and with 2 threads contending, side by side
//! with recloser, failsafe and tower-resilience; plus heap allocations per call.

use std::hint::black_box;
use std::pin::pin;
use std::sync::Barrier;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use failsafe::CircuitBreaker as _;
use resilience_benches::alloc::{INSTRUMENTED_SYSTEM, StatsAlloc, allocations_in};
use resilience_benches::peers::Echo;
use resilience_core::CircuitBreaker;
use resilience_tower::circuit_breaker::CircuitBreakerLayer;
use std::alloc::System;
use tower::{Layer, Service};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

fn breaker() -> CircuitBreaker {
    CircuitBreaker::builder().name("bench").build().unwrap()
}

fn recloser() -> recloser::Recloser {
    recloser::Recloser::custom()
        .error_rate(0.5)
        .closed_len(100)
        .half_open_len(10)
        .open_wait(Duration::from_secs(60))
        .build()
}

fn failsafe() -> impl failsafe::CircuitBreaker + Clone + Send + Sync {
    failsafe::Config::new().build()
}

/// `poll_ready`, `call` and one poll of the future, as a server does for every request.
#[inline]
fn once<S: Service<u64>>(svc: &mut S, req: u64) -> bool {
    let mut cx = Context::from_waker(Waker::noop());
    let ready = matches!(svc.poll_ready(&mut cx), Poll::Ready(Ok(())));
    let fut = pin!(svc.call(req));
    ready && matches!(fut.poll(&mut cx), Poll::Ready(Ok(_)))
}

use std::future::Future;

fn tower_resilience_svc() -> impl Service<u64, Response = u64> + Clone + Send {
    tower_resilience::circuitbreaker::CircuitBreakerLayer::builder()
        .failure_rate_threshold(0.5)
        .sliding_window_size(100)
        .build()
        .unwrap()
        .layer(Echo)
}

fn resilience_svc() -> impl Service<u64, Response = u64> + Clone + Send {
    CircuitBreakerLayer::new(breaker())
        .classifier(resilience_core::classify::TransientErrors)
        .layer(Echo)
}

fn core(c: &mut Criterion) {
    let mut g = c.benchmark_group("circuit_breaker/core");
    let ours = breaker();
    g.bench_function("resilience", |b| {
        b.iter(|| ours.try_acquire().map(|p| p.record_success()).is_ok());
    });
    let rc = recloser();
    g.bench_function("recloser", |b| {
        b.iter(|| rc.call(|| Ok::<_, ()>(black_box(1_u64))).is_ok());
    });
    let fs = failsafe();
    g.bench_function("failsafe", |b| {
        b.iter(|| fs.call(|| Ok::<_, ()>(black_box(1_u64))).is_ok());
    });
    g.finish();
}

fn layer(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let _guard = rt.enter();
    let mut g = c.benchmark_group("circuit_breaker/layer");
    let mut bare = Echo;
    g.bench_function("baseline_no_layer", |b| {
        b.iter(|| once(&mut bare, black_box(1)));
    });
    let mut ours = resilience_svc();
    g.bench_function("resilience", |b| {
        b.iter(|| once(&mut ours, black_box(1)));
    });
    let mut theirs = tower_resilience_svc();
    g.bench_function("tower_resilience", |b| {
        b.iter(|| once(&mut theirs, black_box(1)));
    });
    g.finish();
}

/// Runs `f` `iters` times on each of 2 threads at once; the time per call per thread.
fn contended<T: Clone + Send>(iters: u64, state: T, f: fn(&mut T)) -> Duration {
    let barrier = Barrier::new(2);
    let times: Vec<Duration> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..2)
            .map(|_| {
                let mut state = state.clone();
                let barrier = &barrier;
                s.spawn(move || {
                    barrier.wait();
                    let start = Instant::now();
                    for _ in 0..iters {
                        f(&mut state);
                    }
                    start.elapsed()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    times.into_iter().max().unwrap()
}

fn two_threads(c: &mut Criterion) {
    let mut g = c.benchmark_group("circuit_breaker/2_threads");
    g.bench_function("core/resilience", |b| {
        b.iter_custom(|n| {
            contended(n, breaker(), |cb| {
                black_box(cb.try_acquire().map(|p| p.record_success()).is_ok());
            })
        });
    });
    g.bench_function("core/recloser", |b| {
        b.iter_custom(|n| {
            let rc = std::sync::Arc::new(recloser());
            contended(n, rc, |rc| {
                black_box(rc.call(|| Ok::<_, ()>(1_u64)).is_ok());
            })
        });
    });
    g.bench_function("core/failsafe", |b| {
        b.iter_custom(|n| {
            contended(n, failsafe::Config::new().build(), |fs| {
                black_box(fs.call(|| Ok::<_, ()>(1_u64)).is_ok());
            })
        });
    });
    g.bench_function("layer/resilience", |b| {
        b.iter_custom(|n| {
            contended(
                n,
                CircuitBreakerLayer::new(breaker())
                    .classifier(resilience_core::classify::TransientErrors)
                    .layer(Echo),
                |svc| {
                    black_box(once(svc, 1));
                },
            )
        });
    });
    g.bench_function("layer/tower_resilience", |b| {
        b.iter_custom(|n| {
            let svc = tower_resilience::circuitbreaker::CircuitBreakerLayer::builder()
                .failure_rate_threshold(0.5)
                .sliding_window_size(100)
                .build()
                .unwrap()
                .layer(Echo);
            contended(n, svc, |svc| {
                black_box(once(svc, 1));
            })
        });
    });
    g.finish();
}

fn allocations(_: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let _guard = rt.enter();
    const N: u64 = 10_000;
    let ours = breaker();
    let core = allocations_in(GLOBAL, N, || ours.try_acquire().map(|p| p.record_success()));
    let mut svc = resilience_svc();
    let layer = allocations_in(GLOBAL, N, || once(&mut svc, 1));
    let rc = recloser();
    let recloser = allocations_in(GLOBAL, N, || rc.call(|| Ok::<_, ()>(1_u64)).is_ok());
    let fs = failsafe();
    let failsafe = allocations_in(GLOBAL, N, || fs.call(|| Ok::<_, ()>(1_u64)).is_ok());
    let mut theirs = tower_resilience_svc();
    let tower_resilience = allocations_in(GLOBAL, N, || once(&mut theirs, 1));
    println!(
        "circuit_breaker allocations per call: resilience core {core}, resilience layer {layer}, \
         recloser {recloser}, failsafe {failsafe}, tower-resilience layer {tower_resilience}"
    );
    assert_eq!(
        (core, layer),
        (0, 0),
        "the closed success path must not allocate"
    );
}

criterion_group!(benches, allocations, core, layer, two_threads);
criterion_main!(benches);
