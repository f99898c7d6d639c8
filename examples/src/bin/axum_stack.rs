//! Every layer on one axum route, composed with `ServiceBuilder`, ending in the infallible
//! HTTP error layer.
//!
//! Run: `cargo run -p resilience-examples --bin axum_stack`
//!
//! A `/quote` handler calls a dependency that fails every other call and is sometimes
//! slow. The stack around the route (outermost first): problem+json errors, a 500 ms
//! deadline, a bulkhead of 4, an idempotency layer (for POSTs with a key), bounded retries
//! with a budget, and a circuit breaker judging responses by status. The program sends a
//! few requests, prints what came back, and exits.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use resilience_core::Registry;
use resilience_core::idempotency::MemoryStore;
use resilience_core::retry::{Backoff, RetryPolicy};
use resilience_tower::bulkhead::BulkheadLayer;
use resilience_tower::circuit_breaker::CircuitBreakerLayer;
use resilience_tower::deadline::DeadlineLayer;
use resilience_tower::http::HttpErrorLayer;
use resilience_tower::idempotency::IdempotencyLayer;
use resilience_tower::retry::HttpRetryLayer;
use tower::ServiceBuilder;

/// The dependency: every other call fails with 503, every fifth is slow.
async fn quote(State(calls): State<Arc<AtomicU64>>) -> (StatusCode, String) {
    let n = calls.fetch_add(1, Ordering::Relaxed);
    if n % 5 == 4 {
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    if n % 2 == 0 {
        return (StatusCode::SERVICE_UNAVAILABLE, "busy\n".into());
    }
    (StatusCode::OK, format!("quote #{n}: 42.00\n"))
}

#[tokio::main]
async fn main() -> Result<(), resilience_core::BoxError> {
    let registry = Registry::new();
    let breaker = registry.circuit_breaker("quotes", |b| {
        b.count_window(10)
            .minimum_calls(5)
            .open_duration(Duration::from_secs(5))
    })?;
    let bulkhead = registry.bulkhead("quotes", |b| b.max_concurrent(4))?;
    let retry = RetryPolicy::builder()
        .name("quotes")
        .max_attempts(3)
        .backoff(Backoff::exponential(Duration::from_millis(20)))
        .build()?;

    let calls = Arc::new(AtomicU64::new(0));
    let app = Router::new()
        .route("/quote", get(quote))
        .with_state(Arc::clone(&calls))
        .layer(
            ServiceBuilder::new()
                .layer(HttpErrorLayer::new())
                .layer(
                    DeadlineLayer::builder()
                        .default_timeout(Duration::from_millis(500))
                        .build()?,
                )
                .layer(BulkheadLayer::new(bulkhead))
                .layer(IdempotencyLayer::new(
                    MemoryStore::new(),
                    resilience_examples::caller,
                ))
                .layer(HttpRetryLayer::new(retry))
                // Judged by status (the default): a 5xx or 429 answer counts as a failure.
                .layer(CircuitBreakerLayer::new(breaker)),
        );

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, app).await });
    println!("serving on http://{addr}/quote\n");

    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    for i in 1..=8 {
        let started = tokio::time::Instant::now();
        let response = client.get(format!("http://{addr}/quote").parse()?).await?;
        let status = response.status();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .map(|v| format!(" retry-after: {v}"))
            .unwrap_or_default();
        let body = response.into_body().collect().await?.to_bytes();
        let body = String::from_utf8_lossy(&body);
        let first_line = body.lines().next().unwrap_or_default();
        println!(
            "request {i}: {status}{retry_after} in {:>4} ms  {first_line}",
            started.elapsed().as_millis()
        );
    }
    let snapshot = registry.snapshot();
    println!(
        "\ndependency called {} times; breaker {}",
        calls.load(Ordering::Relaxed),
        snapshot.circuit_breakers[0].state
    );
    Ok(())
}
