//! The hardening: layers around the gateway of [`super::gateway`], and nothing else.
//!
//! The handler's body is untouched. Two things change: the routes are served inside a
//! stack of server layers, and the client the handler calls payments with is wrapped in
//! client layers. Outermost first:
//!
//! ```text
//! request ─▶ HttpErrorLayer        every error below becomes problem+json (503 + Retry-After, 504, 409 ...)
//!            DeadlineLayer         the caller's deadline, or `budget` when it sent none; 504 when it passes
//!            BulkheadLayer         at most `max_in_flight` requests in the handler, a few more wait briefly; the rest shed: 503 at once
//!            IdempotencyLayer      one execution per Idempotency-Key; re-submits replayed, concurrent ones 409
//!            HttpRetryLayer        a failed attempt (502/503) re-run within the deadline and a 20% retry budget
//!            charge (the handler, as written)
//!              └─ client: CircuitBreakerLayer   "payments": fails fast with 503 once calls keep failing; a probe gets `probe_timeout`
//!                         deadline::enforce     the call ends at the deadline, as a failure the breaker sees
//!                         PropagateDeadlineLayer payments gets the time left (minus a margin) and stops in time
//!                         hyper client (as before)
//! ```
//!
//! # Why this order
//!
//! - **Deadline outermost**: everything below — the bulkhead, the retries, the upstream
//!   call — runs under one absolute deadline; nothing outlives the caller's patience.
//! - **Bulkhead before idempotency**: a shed request costs nothing, not even a store claim.
//!   Its size is what keeps an overload from piling into the upstream's queue: 16 in
//!   flight is four times the upstream's workers, room for twice the normal load, and
//!   what it sheds is answered in a millisecond with `Retry-After`. (Adaptive concurrency
//!   would find that size by itself; a fixed one has to be chosen.)
//! - **Idempotency outside retry**: one client request claims its key once, however many
//!   attempts the retry makes under it; a client re-submitting gets the stored answer or a
//!   409, never a second execution.
//! - **Retry at the route, not on the client**: the handler's POST to payments carries no
//!   `Idempotency-Key`, so the HTTP retry layer — rightly — refuses to repeat it. The
//!   client's request does carry one, and an attempt that failed did not charge (payments
//!   answered 503, or gave up at the propagated deadline before charging), so the retry
//!   runs at the route, under the idempotency layer.
//! - **Breaker on the client**: it protects the dependency, so it judges the dependency's
//!   answers (`HttpStatus`: 5xx and 429 are failures) and the calls the deadline cut short.
//!   Deadline enforcement ([`Enforcer::enforce`]) sits inside it so that a hung call ends as a `DeadlineExceeded`
//!   the breaker counts; a call merely dropped from outside would not be counted.
//! - **Propagation with a margin**: payments receives the remaining time minus
//!   [`HardeningConfig::margin`], so it abandons a charge *before* the gateway stops
//!   waiting for it: a charge is either answered or never made, which is what makes the
//!   retries and the client's re-submits safe.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use resilience_core::deadline::Enforcer;
use resilience_core::idempotency::{IdempotencyStore, MemoryStore, RedisStore};
use resilience_core::retry::{Backoff, Jitter, RetryBudget, RetryPolicy};
use resilience_core::{BoxError, CircuitBreaker, Registry};
use resilience_tower::bulkhead::BulkheadLayer;
use resilience_tower::circuit_breaker::CircuitBreakerLayer;
use resilience_tower::deadline::{DeadlineLayer, PropagateDeadlineLayer};
use resilience_tower::http::HttpErrorLayer;
use resilience_tower::idempotency::IdempotencyLayer;
use resilience_tower::retry::HttpRetryLayer;
use tower::util::{BoxCloneSyncService, MapFutureLayer};
use tower::{ServiceBuilder, ServiceExt};

use super::gateway::{self, Payments};

/// Settings of the hardened gateway.
#[derive(Clone, Debug)]
pub struct HardeningConfig {
    /// Time budget of a request that brings no deadline of its own (and the most one may
    /// ask for): upstream calls and retries included.
    pub budget: Duration,
    /// Time subtracted from the remaining budget before it is handed to payments.
    pub margin: Duration,
    /// Requests in the handler at once; more wait in the bulkhead's queue.
    pub max_in_flight: usize,
    /// Requests that may wait for a place in the handler; more are shed with 503 at once.
    pub max_waiting: usize,
    /// How long a request waits for a place before it is shed.
    pub max_wait: Duration,
    /// How long the breaker stays open before it lets probes through.
    pub open_duration: Duration,
    /// How long a half-open probe may take (its deadline, propagated to payments): a
    /// probe sent into a hung upstream fails after this, not after the whole `budget`,
    /// so the breaker closes about `open_duration` after payments is back.
    pub probe_timeout: Duration,
    /// Redis URL of the idempotency store (in memory without one).
    pub redis: Option<String>,
}

impl Default for HardeningConfig {
    fn default() -> Self {
        Self {
            budget: Duration::from_secs(1),
            margin: Duration::from_millis(100),
            max_in_flight: 16,
            max_waiting: 16,
            max_wait: Duration::from_millis(250),
            open_duration: Duration::from_millis(500),
            probe_timeout: Duration::from_millis(250),
            redis: None,
        }
    }
}

/// The hardened gateway, with handles on its primitives.
#[derive(Clone, Debug)]
pub struct Hardened {
    /// The routes, wrapped.
    pub router: Router,
    /// Where its circuit breaker and bulkhead are registered.
    pub registry: Arc<Registry>,
}

/// Wraps the gateway's routes, calling payments at `upstream`.
///
/// # Errors
///
/// When a primitive's configuration is invalid or the Redis store is unreachable.
pub async fn harden(upstream: SocketAddr, config: &HardeningConfig) -> Result<Hardened, BoxError> {
    let registry = Arc::new(Registry::new());
    let breaker: CircuitBreaker = registry.circuit_breaker("payments", |b| {
        b.count_window(20)
            .minimum_calls(10)
            .failure_rate_threshold(0.5)
            .open_duration(config.open_duration)
            .half_open_calls(1)
            .probe_timeout(config.probe_timeout)
    })?;

    // The client the handler calls payments with: the plain one, wrapped.
    let enforcer = Enforcer::new("payments");
    let client = ServiceBuilder::new()
        // Judged by status (the default): a 503 from payments counts against it.
        .layer(CircuitBreakerLayer::new(breaker))
        .layer(MapFutureLayer::new(move |call| {
            let enforced = enforcer.enforce(call);
            async move { enforced.await.and_then(|result| result) }
        }))
        .layer(
            PropagateDeadlineLayer::builder()
                .name("payments")
                .margin(config.margin)
                .build(),
        )
        .service(gateway::plain_client());
    let payments = Payments::new(
        BoxCloneSyncService::new(client.map_err(BoxError::from)),
        upstream,
    );

    let store: Arc<dyn IdempotencyStore> = match &config.redis {
        None => Arc::new(MemoryStore::new()),
        Some(url) => {
            let store = RedisStore::builder(url.as_str())
                .prefix("chaos:idempotency:")
                .build()?;
            // Fail at start, with Redis's own message, rather than on the first payment.
            store
                .ping()
                .await
                .map_err(|e| format!("--redis {url}: {e}"))?;
            Arc::new(store)
        }
    };
    let bulkhead = registry.bulkhead("charge", |b| {
        b.max_concurrent(config.max_in_flight)
            .max_waiting(config.max_waiting)
            .max_wait(config.max_wait)
    })?;
    let retry = RetryPolicy::builder()
        .name("charge")
        .max_attempts(3)
        .backoff(Backoff::exponential(Duration::from_millis(50)))
        .max_delay(Duration::from_millis(500))
        .jitter(Jitter::Full)
        .budget(RetryBudget::builder().ratio(0.2).min_per_sec(5).build()?)
        .build()?;

    let router = gateway::routes(payments).layer(
        ServiceBuilder::new()
            .layer(HttpErrorLayer::new())
            .layer(
                DeadlineLayer::builder()
                    .name("gateway")
                    .default_timeout(config.budget)
                    .max(config.budget)
                    .build()?,
            )
            .layer(BulkheadLayer::new(bulkhead))
            .layer(
                IdempotencyLayer::builder(store)
                    .name("charge")
                    .scope(crate::caller)
                    .build()?,
            )
            .layer(HttpRetryLayer::new(retry)),
    );
    Ok(Hardened { router, registry })
}
