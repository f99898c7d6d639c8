//! The full stack, outermost first: deadline, retry, circuit breaker, bulkhead, around a
//! trivial HTTP service, on `http::Request<()>`s without a deadline header.
//!
//! Ours: `DeadlineLayer` with `default_timeout(1 s)` (so, like the peers, every call gets a
//! 1 s limit), `RetryLayer` (3 attempts, default budget), `CircuitBreakerLayer` (count
//! window 100), `BulkheadLayer` (64), each with its defaults otherwise (no request
//! extension). The closest tower-resilience stack: `TimeLimiterLayer` (1 s, cancel on
//! timeout), `RetryLayer` (3 attempts, token-bucket budget), `CircuitBreakerLayer`
//! (sliding window 100), `BulkheadLayer` (64, reject when full). Tower's own layers have
//! no circuit breaker: `Timeout` (1 s), `Retry` (2 retries under a `TpsBudget` shaped like
//! ours) and `ConcurrencyLimit` (64), so that stack does one job less than ours.
//!
//! `full_stack/layers_extension` is ours with the deadline's request extension turned on
//! (an opt-in): the extension costs its own allocations and makes every retry's request
//! clone allocate.

use std::convert::Infallible;
use std::time::Duration;

use resilience_core::CircuitBreaker;
use resilience_core::bulkhead::Bulkhead;
use resilience_tower::bulkhead::BulkheadLayer;
use resilience_tower::circuit_breaker::CircuitBreakerLayer;
use resilience_tower::deadline::DeadlineLayer;
use resilience_tower::retry::RetryLayer;
use tower::Layer;

use super::{HttpEcho, plain_request};
use crate::compare::{Comparison, Entry};

const LIMIT: Duration = Duration::from_secs(1);
const CAPACITY: usize = 64;
const WINDOW: u32 = 100;

type PeerInnerError = tower_resilience::circuitbreaker::CircuitBreakerError<
    tower_resilience::bulkhead::BulkheadServiceError<Infallible>,
>;

fn ours(
    extension: bool,
) -> impl tower_service::Service<http::Request<()>, Response = http::Response<()>> + Clone + Send + 'static
{
    let deadline = DeadlineLayer::builder()
        .default_timeout(LIMIT)
        .request_extension(extension)
        .build()
        .expect("a valid deadline layer");
    let retry = RetryLayer::new(super::retry::policy());
    let breaker = CircuitBreaker::builder()
        .name("compare")
        .count_window(WINDOW)
        .failure_rate_threshold(0.5)
        .build()
        .expect("a valid breaker");
    let bulkhead = Bulkhead::builder()
        .name("compare")
        .max_concurrent(CAPACITY)
        .build()
        .expect("a valid bulkhead");
    deadline.layer(retry.layer(
        CircuitBreakerLayer::new(breaker).layer(BulkheadLayer::new(bulkhead).layer(HttpEcho)),
    ))
}

fn tower_resilience()
-> impl tower_service::Service<http::Request<()>, Response = http::Response<()>> + Clone + Send + 'static
{
    let time_limiter = tower_resilience::timelimiter::TimeLimiterLayer::builder()
        .timeout_duration(LIMIT)
        .cancel_running_future(true)
        .build();
    let budget = tower_resilience::retry::RetryBudgetBuilder::new()
        .token_bucket()
        .tokens_per_second(10.0)
        .max_tokens(100)
        .build()
        .expect("a valid tower-resilience budget");
    let retry = tower_resilience::retry::RetryLayer::<
        http::Request<()>,
        http::Response<()>,
        PeerInnerError,
    >::builder()
    .max_attempts(3)
    .exponential_backoff(Duration::from_millis(100))
    .budget(budget)
    .build();
    let breaker = tower_resilience::circuitbreaker::CircuitBreakerLayer::builder()
        .failure_rate_threshold(0.5)
        .sliding_window_size(WINDOW as usize)
        .build()
        .expect("a valid tower-resilience breaker");
    let bulkhead = tower_resilience::bulkhead::BulkheadLayer::builder()
        .max_concurrent_calls(CAPACITY)
        .reject_when_full()
        .build()
        .expect("a valid tower-resilience bulkhead");
    time_limiter.layer(retry.layer(breaker.layer(bulkhead.layer(HttpEcho))))
}

fn tower_builtins()
-> impl tower_service::Service<http::Request<()>, Response = http::Response<()>> + Clone + Send + 'static
{
    tower::ServiceBuilder::new()
        .timeout(LIMIT)
        .layer(tower::retry::RetryLayer::new(
            crate::peers::TowerBudgetPolicy::new(2),
        ))
        .concurrency_limit(CAPACITY)
        .service(HttpEcho)
}

pub(super) fn comparisons() -> Vec<Comparison> {
    vec![
        Comparison::new("full_stack/layers")
            .zero_alloc()
            .ours(Entry::service(
                "resilience stack",
                ours(false),
                plain_request,
            ))
            .peer(Entry::service(
                "tower-resilience stack",
                tower_resilience(),
                plain_request,
            ))
            .peer(Entry::service(
                "tower stack (no breaker)",
                tower_builtins(),
                plain_request,
            )),
        Comparison::new("full_stack/layers_extension")
            .ours(Entry::service(
                "resilience stack",
                ours(true),
                plain_request,
            ))
            .peer(Entry::service(
                "tower-resilience stack",
                tower_resilience(),
                plain_request,
            )),
    ]
}
