//! Retry layer overhead when the first attempt succeeds, side by side with tower's
//! `Retry` (with a `TpsBudget` policy) and tower-resilience's retry, plus allocations
//! per call.
//!
//! Each call is driven by hand (`poll_ready`, `call`, one `poll` with a no-op waker):
//! every inner future here is ready at once, so what is measured is the layer, not an
//! executor.

use std::convert::Infallible;
use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use resilience_benches::alloc::{INSTRUMENTED_SYSTEM, StatsAlloc, allocations_in};
use resilience_benches::peers::{Echo, TowerBudgetPolicy};
use resilience_core::retry::{Backoff, RetryPolicy};
use resilience_tower::retry::RetryLayer;
use std::alloc::System;
use tower::Layer;
use tower::Service;

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

fn call_once<S: Service<u64, Response = u64>>(svc: &mut S, req: u64) -> u64
where
    S::Error: std::fmt::Debug,
{
    let mut cx = Context::from_waker(Waker::noop());
    match svc.poll_ready(&mut cx) {
        Poll::Ready(Ok(())) => {}
        _ => panic!("bench services are always ready"),
    }
    let fut = pin!(svc.call(req));
    match fut.poll(&mut cx) {
        Poll::Ready(Ok(res)) => res,
        _ => panic!("bench futures are ready at once"),
    }
}

fn ours(budget: bool) -> impl Service<u64, Response = u64, Error = resilience_core::Error> {
    let mut builder = RetryPolicy::builder()
        .name("bench")
        .max_attempts(3)
        .backoff(Backoff::exponential(Duration::from_millis(100)));
    if !budget {
        builder = builder.no_budget();
    }
    RetryLayer::new(builder.build().unwrap()).layer(Echo)
}

fn tower_retry() -> impl Service<u64, Response = u64, Error = Infallible> {
    let policy = TowerBudgetPolicy::new(2);
    tower::retry::RetryLayer::new(policy).layer(Echo)
}

fn tower_resilience_retry() -> impl Service<u64, Response = u64, Error = Infallible> {
    tower_resilience::retry::RetryLayer::<u64, u64, Infallible>::builder()
        .max_attempts(3)
        .exponential_backoff(Duration::from_millis(100))
        .build()
        .layer(Echo)
}

fn retry(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let _guard = runtime.enter();

    let mut group = c.benchmark_group("retry_first_attempt_succeeds");
    let mut echo = Echo;
    group.bench_function("baseline_no_layer", |b| {
        b.iter(|| call_once(&mut echo, black_box(7)));
    });
    let mut svc = ours(true);
    group.bench_function("resilience_with_budget", |b| {
        b.iter(|| call_once(&mut svc, black_box(7)));
    });
    let mut svc = ours(false);
    group.bench_function("resilience_no_budget", |b| {
        b.iter(|| call_once(&mut svc, black_box(7)));
    });
    let mut svc = tower_retry();
    group.bench_function("tower_retry_tps_budget", |b| {
        b.iter(|| call_once(&mut svc, black_box(7)));
    });
    let mut svc = tower_resilience_retry();
    group.bench_function("tower_resilience_retry", |b| {
        b.iter(|| call_once(&mut svc, black_box(7)));
    });
    group.finish();

    let mut group = c.benchmark_group("retry_parts");
    let policy = RetryPolicy::builder().build().unwrap();
    let budget = policy.budget().unwrap().clone();
    group.bench_function("budget_deposit", |b| b.iter(|| budget.deposit()));
    group.bench_function("policy_retry_loop", |b| {
        b.iter(|| black_box(policy.retry_loop()));
    });
    group.bench_function("policy_clone_drop", |b| {
        b.iter(|| black_box(policy.clone()));
    });
    group.bench_function("deadline_current", |b| {
        b.iter(|| black_box(resilience_core::Deadline::current()));
    });
    group.finish();

    let n = 10_000;
    let mut a = ours(true);
    let mut t = tower_retry();
    let mut r = tower_resilience_retry();
    println!(
        "allocations per call (first attempt succeeds): resilience {}, tower {}, tower-resilience {}",
        allocations_in(GLOBAL, n, || call_once(&mut a, 7)),
        allocations_in(GLOBAL, n, || call_once(&mut t, 7)),
        allocations_in(GLOBAL, n, || call_once(&mut r, 7)),
    );
}

criterion_group!(benches, retry);
criterion_main!(benches);
