//! The functions the `macro/*` comparisons and the `macro` criterion bench time: the same
//! body unwrapped, under `#[resilient(...)]`, composed by hand from the core API the
//! attribute is made of, and retried by backon. Every one answers at once, so what is
//! timed is what the wrapping adds.

use std::hint::black_box;
use std::sync::LazyLock;
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use resilience_core::bulkhead::Bulkhead;
use resilience_core::circuit_breaker::CircuitBreaker;
use resilience_core::classify::TransientErrors;
use resilience_core::retry::{Backoff, RetryPolicy};
use resilience_core::telemetry::call_span;
use resilience_core::{Deadline, Error, ErrorKind, resilient};
use tracing::Instrument;

/// The body every contender runs.
#[inline(never)]
pub async fn body(x: u64) -> Result<u64, Error> {
    Ok(black_box(x) + 1)
}

/// `#[resilient]` with a name only: the call span.
#[resilient(name = "bench.name_only")]
pub async fn name_only(x: u64) -> Result<u64, Error> {
    Ok(black_box(x) + 1)
}

/// `#[resilient]` with an attempt timeout.
#[resilient(name = "bench.timeout", timeout = "1s")]
pub async fn with_timeout(x: u64) -> Result<u64, Error> {
    Ok(black_box(x) + 1)
}

/// `#[resilient]` with a deadline and an attempt timeout.
#[resilient(name = "bench.deadline_timeout", deadline = "2s", timeout = "1s")]
pub async fn with_deadline_and_timeout(x: u64) -> Result<u64, Error> {
    Ok(black_box(x) + 1)
}

/// `#[resilient]` retrying: 3 attempts, exponential from 100 ms (full jitter), the
/// policy's own budget.
#[resilient(
    name = "bench.retry",
    retry(attempts = 3, backoff = "exponential", base = "100ms")
)]
pub async fn with_retry(x: u64) -> Result<u64, Error> {
    Ok(black_box(x) + 1)
}

/// The policy `with_retry` builds, for the hand-composed equivalent.
static POLICY: LazyLock<RetryPolicy> = LazyLock::new(|| {
    RetryPolicy::builder()
        .name("bench.retry.hand")
        .max_attempts(3)
        .backoff(Backoff::exponential(Duration::from_millis(100)))
        .build()
        .expect("a valid policy")
});

/// What `#[resilient(name, retry(...))]` does, written with the core API: the call span
/// around the policy's typed runner.
pub async fn hand_composed_retry(x: u64) -> Result<u64, Error> {
    POLICY
        .run_typed(|| body(x))
        .instrument(call_span("bench.retry.hand"))
        .await
}

/// backon retrying the same body: exponential from 100 ms, 2 retries, jitter.
pub async fn backon_retry(x: u64) -> Result<u64, Error> {
    (|| body(x))
        .retry(
            ExponentialBuilder::default()
                .with_min_delay(Duration::from_millis(100))
                .with_max_times(2)
                .with_jitter(),
        )
        .await
}

static BREAKER: LazyLock<CircuitBreaker> = LazyLock::new(|| {
    CircuitBreaker::builder()
        .name("bench.full")
        .build()
        .expect("a valid breaker")
});
static BULKHEAD: LazyLock<Bulkhead> = LazyLock::new(|| {
    Bulkhead::builder()
        .name("bench.full")
        .build()
        .expect("a valid bulkhead")
});

/// `#[resilient]` with every option: deadline, timeout, retry, breaker, bulkhead.
#[resilient(
    name = "bench.full",
    deadline = "2s",
    timeout = "300ms",
    retry(attempts = 3, backoff = "exponential", base = "100ms"),
    circuit_breaker = BREAKER,
    bulkhead = BULKHEAD,
)]
pub async fn full_stack(x: u64) -> Result<u64, Error> {
    Ok(black_box(x) + 1)
}

static HAND_BREAKER: LazyLock<CircuitBreaker> = LazyLock::new(|| {
    CircuitBreaker::builder()
        .name("bench.full.hand")
        .build()
        .expect("a valid breaker")
});
static HAND_BULKHEAD: LazyLock<Bulkhead> = LazyLock::new(|| {
    Bulkhead::builder()
        .name("bench.full.hand")
        .build()
        .expect("a valid bulkhead")
});

/// The same stack written with the core API a careful hand would use: span → deadline →
/// retry → breaker → bulkhead → timeout.
pub async fn hand_composed_full_stack(x: u64) -> Result<u64, Error> {
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
