//! What a bulkhead costs per call, side by side with tower's `ConcurrencyLimit` and
//! tower-resilience's bulkhead in the same run: uncontended, from two threads at once,
//! and in heap allocations per call.
//!
//! Each "call" is `poll_ready` + `call` + polling the response future to completion on an
//! inner service that answers at once, so the figures are the layer's own overhead.

use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use resilience_benches::alloc::{INSTRUMENTED_SYSTEM, StatsAlloc, allocations_in};
use resilience_benches::peers::Echo;
use resilience_core::bulkhead::Bulkhead;
use resilience_tower::bulkhead::BulkheadLayer;
use tower::limit::ConcurrencyLimitLayer;
use tower::{Layer, Service};

#[global_allocator]
static GLOBAL: &StatsAlloc<std::alloc::System> = &INSTRUMENTED_SYSTEM;

/// Room enough that no call is ever refused: the benchmark measures admission, not
/// rejection.
const CAPACITY: usize = 64;

/// One call, driven by hand with a no-op waker; every service here completes at once.
#[inline]
fn call_once<S: Service<u64>>(service: &mut S, request: u64) -> Option<S::Response> {
    let cx = &mut Context::from_waker(Waker::noop());
    match service.poll_ready(cx) {
        Poll::Ready(Ok(())) => {}
        _ => return None,
    }
    let future = pin!(service.call(request));
    match future.poll(cx) {
        Poll::Ready(Ok(response)) => Some(response),
        _ => None,
    }
}

fn ours() -> impl Service<u64, Response = u64> + Clone + Send + 'static {
    let bulkhead = Bulkhead::builder()
        .name("bench")
        .max_concurrent(CAPACITY)
        .build()
        .expect("valid config");
    BulkheadLayer::new(bulkhead).layer(Echo)
}

fn tower_limit() -> impl Service<u64, Response = u64> + Clone + Send + 'static {
    ConcurrencyLimitLayer::new(CAPACITY).layer(Echo)
}

fn tower_resilience() -> impl Service<u64, Response = u64> + Clone + Send + 'static {
    tower_resilience::bulkhead::BulkheadLayer::builder()
        .max_concurrent_calls(CAPACITY)
        .reject_when_full()
        .build()
        .expect("valid config")
        .layer(Echo)
}

fn uncontended(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let _context = runtime.enter();

    let mut group = c.benchmark_group("bulkhead/uncontended");
    group.bench_function("baseline_no_layer", |b| {
        let mut service = Echo;
        b.iter(|| call_once(&mut service, black_box(1)));
    });
    group.bench_function("resilience_layer", |b| {
        let mut service = ours();
        b.iter(|| call_once(&mut service, black_box(1)));
    });
    group.bench_function("tower_concurrency_limit", |b| {
        let mut service = tower_limit();
        b.iter(|| call_once(&mut service, black_box(1)));
    });
    group.bench_function("tower_resilience", |b| {
        let mut service = tower_resilience();
        b.iter(|| call_once(&mut service, black_box(1)));
    });
    group.bench_function("resilience_core_try_acquire_release", |b| {
        let bulkhead = Bulkhead::builder()
            .max_concurrent(CAPACITY)
            .build()
            .unwrap();
        b.iter(|| drop(black_box(bulkhead.try_acquire())));
    });
    group.finish();
}

/// Two threads calling clones of one service at once; the figure is wall time per pair
/// of calls (one on each thread).
fn two_threads<S>(make: fn() -> S) -> impl FnMut(u64) -> Duration
where
    S: Service<u64, Response = u64> + Clone + Send + 'static,
{
    move |iters| {
        let service = make();
        let start = Instant::now();
        std::thread::scope(|scope| {
            for _ in 0..2 {
                let mut service = service.clone();
                scope.spawn(move || {
                    let runtime = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .expect("runtime");
                    let _context = runtime.enter();
                    for i in 0..iters {
                        black_box(call_once(&mut service, black_box(i)));
                    }
                });
            }
        });
        start.elapsed()
    }
}

fn contended(c: &mut Criterion) {
    let mut group = c.benchmark_group("bulkhead/2_threads");
    group.bench_function("resilience_layer", |b| b.iter_custom(two_threads(ours)));
    group.bench_function("tower_concurrency_limit", |b| {
        b.iter_custom(two_threads(tower_limit));
    });
    group.bench_function("tower_resilience", |b| {
        b.iter_custom(two_threads(tower_resilience));
    });
    group.finish();
}

/// Heap allocations per call, printed with the benchmark output. Ours must be zero.
fn allocations(_: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let _context = runtime.enter();
    const N: u64 = 10_000;

    let mut service = ours();
    let ours = allocations_in(GLOBAL, N, || call_once(&mut service, 1));
    let mut service = tower_limit();
    let tower = allocations_in(GLOBAL, N, || call_once(&mut service, 1));
    let mut service = tower_resilience();
    let peer = allocations_in(GLOBAL, N, || call_once(&mut service, 1));
    println!(
        "bulkhead allocations per call: resilience_layer {ours}, \
         tower_concurrency_limit {tower}, tower_resilience {peer}"
    );
    assert_eq!(
        ours, 0,
        "the bulkhead layer must not allocate on the success path"
    );
}

criterion_group!(benches, allocations, uncontended, contended);
criterion_main!(benches);
