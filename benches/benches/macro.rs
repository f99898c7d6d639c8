//! What `#[resilient]` costs on the success path: the same body unwrapped, under the
//! attribute, and composed by hand from the core primitives, with `backon`'s retry of the
//! same closure as the peer. Each future completes on its first poll (no timer fires), so
//! it is polled once with a no-op waker inside a tokio runtime context (timers need one).

use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use criterion::{Criterion, criterion_group, criterion_main};
use resilience_benches::alloc::{INSTRUMENTED_SYSTEM, StatsAlloc, allocations_in};
use resilience_benches::macros::{
    backon_retry, body, full_stack, hand_composed_full_stack, hand_composed_retry, name_only,
    with_deadline_and_timeout, with_retry, with_timeout,
};
use resilience_core::telemetry::call_span;

#[global_allocator]
static GLOBAL: &StatsAlloc<std::alloc::System> = &INSTRUMENTED_SYSTEM;

/// Polls `future` once; every benchmarked future is ready at once.
fn ready<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(out) => out,
        Poll::Pending => panic!("the benchmarked future must complete on its first poll"),
    }
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

    let mut group = c.benchmark_group("macro_retry_first_attempt_succeeds");
    group.bench_function("unwrapped_body", |b| {
        b.iter(|| ready(body(black_box(1))));
    });
    group.bench_function("resilient_retry", |b| {
        b.iter(|| ready(with_retry(black_box(1))));
    });
    group.bench_function("hand_composed_run_typed", |b| {
        b.iter(|| ready(hand_composed_retry(black_box(1))));
    });
    group.bench_function("backon_retry", |b| {
        b.iter(|| ready(backon_retry(black_box(1))));
    });
    group.finish();

    let mut group = c.benchmark_group("macro_full_stack");
    group.bench_function("unwrapped_body", |b| {
        b.iter(|| ready(body(black_box(1))));
    });
    group.bench_function("resilient_full_stack", |b| {
        b.iter(|| ready(full_stack(black_box(1))));
    });
    group.bench_function("hand_composed_full_stack", |b| {
        b.iter(|| ready(hand_composed_full_stack(black_box(1))));
    });
    group.bench_function("call_span_alone", |b| {
        b.iter(|| call_span(black_box("bench.span")));
    });
    group.finish();

    println!(
        "future sizes (bytes): unwrapped {}, retry {}, hand-composed retry {}, full stack {}, hand-composed full stack {}",
        std::mem::size_of_val(&body(1)),
        std::mem::size_of_val(&with_retry(1)),
        std::mem::size_of_val(&hand_composed_retry(1)),
        std::mem::size_of_val(&full_stack(1)),
        std::mem::size_of_val(&hand_composed_full_stack(1)),
    );
    let calls = 10_000;
    println!(
        "allocations per call: unwrapped {}, name only {}, timeout {}, deadline + timeout {}, \
         retry {}, hand-composed retry {}, backon {}, full stack {}, hand-composed full stack {}",
        allocations_in(GLOBAL, calls, || ready(body(1))),
        allocations_in(GLOBAL, calls, || ready(name_only(1))),
        allocations_in(GLOBAL, calls, || ready(with_timeout(1))),
        allocations_in(GLOBAL, calls, || ready(with_deadline_and_timeout(1))),
        allocations_in(GLOBAL, calls, || ready(with_retry(1))),
        allocations_in(GLOBAL, calls, || ready(hand_composed_retry(1))),
        allocations_in(GLOBAL, calls, || ready(backon_retry(1))),
        allocations_in(GLOBAL, calls, || ready(full_stack(1))),
        allocations_in(GLOBAL, calls, || ready(hand_composed_full_stack(1))),
    );
}

criterion_group!(benches, macro_overhead);
criterion_main!(benches);
