//! What `#[resilient]` costs on the success path: the same body unwrapped, under the
//! attribute, and composed by hand from the core primitives, with `backon`'s retry of the
//! same closure as the peer. Each future completes on its first poll (no timer fires), so
//! it is polled once with a no-op waker inside a tokio runtime context (timers need one).

use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use resilience_benches::alloc::{INSTRUMENTED_SYSTEM, StatsAlloc, allocations_in};
use resilience_core::{Error, resilient};

#[global_allocator]
static GLOBAL: &StatsAlloc<std::alloc::System> = &INSTRUMENTED_SYSTEM;

/// Polls `future` once; every benchmarked future is ready at once.
fn ready<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    match future.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(out) => out,
        Poll::Pending => panic!("the benchmarked future must complete on its first poll"),
    }
}

#[inline(never)]
async fn body(x: u64) -> Result<u64, Error> {
    Ok(black_box(x) + 1)
}

#[resilient(name = "bench.name_only")]
async fn name_only(x: u64) -> Result<u64, Error> {
    Ok(black_box(x) + 1)
}

#[resilient(name = "bench.timeout", timeout = "1s")]
async fn with_timeout(x: u64) -> Result<u64, Error> {
    Ok(black_box(x) + 1)
}

#[resilient(name = "bench.deadline_timeout", deadline = "2s", timeout = "1s")]
async fn with_deadline_and_timeout(x: u64) -> Result<u64, Error> {
    Ok(black_box(x) + 1)
}

fn macro_overhead(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let _guard = rt.enter();

    let mut group = c.benchmark_group("macro");
    group.bench_function("unwrapped_body", |b| {
        b.iter(|| ready(body(black_box(1))));
    });
    group.bench_function("resilient_name_only", |b| {
        b.iter(|| ready(name_only(black_box(1))));
    });
    group.bench_function("resilient_timeout", |b| {
        b.iter(|| ready(with_timeout(black_box(1))));
    });
    group.bench_function("resilient_deadline_timeout", |b| {
        b.iter(|| ready(with_deadline_and_timeout(black_box(1))));
    });
    group.finish();

    let calls = 10_000;
    println!(
        "allocations per call: unwrapped {}, name only {}, timeout {}, deadline + timeout {}",
        allocations_in(GLOBAL, calls, || ready(body(1))),
        allocations_in(GLOBAL, calls, || ready(name_only(1))),
        allocations_in(GLOBAL, calls, || ready(with_timeout(1))),
        allocations_in(GLOBAL, calls, || ready(with_deadline_and_timeout(1))),
    );
}

criterion_group!(benches, macro_overhead);
criterion_main!(benches);

#[allow(dead_code)]
const _: Duration = Duration::ZERO;
