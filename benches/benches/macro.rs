//! What `#[resilient]` costs on the success path: the same body unwrapped, under the
//! attribute, and composed by hand from the core primitives, with `backon`'s retry of the
//! same closure as the peer. Each future completes on its first poll (no timer fires), so
//! it is polled once with a no-op waker inside a tokio runtime context (timers need one).

use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::sync::LazyLock;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use criterion::{Criterion, criterion_group, criterion_main};
use resilience_benches::alloc::{INSTRUMENTED_SYSTEM, StatsAlloc, allocations_in};
use resilience_core::bulkhead::Bulkhead;
use resilience_core::circuit_breaker::CircuitBreaker;
use resilience_core::classify::TransientErrors;
use resilience_core::retry::{Backoff, RetryPolicy};
use resilience_core::telemetry::call_span;
use resilience_core::{Deadline, ErrorKind};
use resilience_core::{Error, resilient};
use tracing::Instrument;

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

#[resilient(
    name = "bench.retry",
    retry(attempts = 3, backoff = "exponential", base = "50ms", max = "1s")
)]
async fn with_retry(x: u64) -> Result<u64, Error> {
    Ok(black_box(x) + 1)
}

/// The policy `with_retry` builds, for the hand-composed equivalent.
static POLICY: LazyLock<RetryPolicy> = LazyLock::new(|| {
    RetryPolicy::builder()
        .name("bench.retry.hand")
        .max_attempts(3)
        .backoff(Backoff::exponential(Duration::from_millis(50)))
        .max_delay(Duration::from_secs(1))
        .build()
        .unwrap()
});

/// What `#[resilient(name, retry(...))]` does, written by hand: the call span and the
/// policy's typed runner.
async fn hand_composed_retry(x: u64) -> Result<u64, Error> {
    POLICY
        .run_typed(|| body(x))
        .instrument(call_span("bench.retry.hand"))
        .await
}

async fn backon_retry(x: u64) -> Result<u64, Error> {
    (|| body(x))
        .retry(
            ExponentialBuilder::default()
                .with_min_delay(Duration::from_millis(50))
                .with_max_delay(Duration::from_secs(1))
                .with_max_times(2)
                .with_jitter(),
        )
        .await
}

static BREAKER: LazyLock<CircuitBreaker> = LazyLock::new(|| {
    CircuitBreaker::builder()
        .name("bench.full")
        .build()
        .unwrap()
});
static BULKHEAD: LazyLock<Bulkhead> =
    LazyLock::new(|| Bulkhead::builder().name("bench.full").build().unwrap());

#[resilient(
    name = "bench.full",
    deadline = "2s",
    timeout = "300ms",
    retry(attempts = 3, backoff = "exponential", base = "50ms", max = "1s"),
    circuit_breaker = BREAKER,
    bulkhead = BULKHEAD,
)]
async fn full_stack(x: u64) -> Result<u64, Error> {
    Ok(black_box(x) + 1)
}

static HAND_BREAKER: LazyLock<CircuitBreaker> = LazyLock::new(|| {
    CircuitBreaker::builder()
        .name("bench.full.hand")
        .build()
        .unwrap()
});
static HAND_BULKHEAD: LazyLock<Bulkhead> =
    LazyLock::new(|| Bulkhead::builder().name("bench.full.hand").build().unwrap());

/// The same stack written with the core API: span → deadline → retry → breaker → bulkhead
/// → timeout.
async fn hand_composed_full_stack(x: u64) -> Result<u64, Error> {
    let attempt = || async {
        let permit = HAND_BREAKER.try_acquire()?;
        let limited = tokio::time::timeout(Duration::from_millis(300), body(x));
        let result = match HAND_BULKHEAD.call(limited).await {
            Ok(Ok(result)) => result,
            Ok(Err(_elapsed)) => Err(Error::new(ErrorKind::Timeout)),
            Err(rejected) => Err(rejected),
        };
        permit.record_result(&TransientErrors, &result);
        result
    };
    Deadline::after(Duration::from_secs(2))
        .run(POLICY.run_typed(attempt))
        .instrument(call_span("bench.full.hand"))
        .await
        .and_then(|result| result)
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
