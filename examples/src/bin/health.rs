//! Readiness from the primitives and a dependency check, `/metrics`, and a graceful
//! shutdown: a few lines of `resilience_core::health`.
//!
//! Run: `cargo run -p resilience-examples --bin health`
//!
//! `/live` and `/ready` come from `resilience_tower::health::router`; readiness lists a
//! disk check and the `Registry`'s breaker and bulkhead, and answers 503 while the
//! "inventory" breaker (declared critical) is open, so a load balancer takes the instance
//! out. `/metrics` renders the `resilience_*` metrics. The program fails inventory until
//! the breaker opens, prints both endpoints, then shuts down gracefully.

use std::sync::Arc;
use std::time::Duration;

use axum::routing::get;
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use resilience_core::health::{Check, Health};
use resilience_core::{BoxError, Registry};

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    // Install the exporter first, so the primitives' metric handles bind to it; the
    // library's builder renders every duration as a histogram (documented buckets).
    let prometheus = resilience_core::prometheus::builder().install_recorder()?;
    resilience_core::telemetry::describe();

    let registry = Arc::new(Registry::new());
    let breaker = registry.circuit_breaker("inventory", |b| {
        b.count_window(10)
            .minimum_calls(5)
            .open_duration(Duration::from_secs(30))
    })?;
    registry.bulkhead("inventory", |b| b.max_concurrent(8))?;
    let health = Health::builder()
        .check(
            Check::new("disk", || async { std::fs::metadata(".").map(drop) })
                .component_type("system"),
        )
        .registry(Arc::clone(&registry))
        .critical_circuit_breaker("inventory") // open: 503 (other breakers only warn)
        .shutdown_delay(Duration::from_millis(100))
        .build()?;

    let app = resilience_tower::health::router(health.clone())
        .route("/metrics", get(move || async move { prometheus.render() }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let server = axum::serve(listener, app)
        .with_graceful_shutdown(health.shutdown_signal(std::future::pending::<()>()));
    let serving = tokio::spawn(health.drain(server));
    health.startup().await?; // no startup checks here: ready at once

    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let get = |path: &'static str| {
        let client = client.clone();
        async move {
            let response = client.get(format!("http://{addr}{path}").parse()?).await?;
            let status = response.status();
            let body = response.into_body().collect().await?.to_bytes();
            Ok::<_, BoxError>((status, String::from_utf8_lossy(&body).into_owned()))
        }
    };

    let (status, body) = get("/ready").await?;
    println!("GET /ready while inventory works: {status}\n{body}\n");

    for _ in 0..5 {
        let failing = async { Err::<(), _>("inventory: connection refused") };
        breaker.call(failing).await.ok();
    }
    let (status, body) = get("/ready").await?;
    println!("GET /ready after five failures: {status}\n{body}\n");
    let (_, metrics) = get("/metrics").await?;
    println!("GET /metrics:\n{metrics}--- end of /metrics");

    // SIGTERM would do this through the signal future; readiness fails, then the server
    // drains and stops.
    health.shutdown();
    serving.await???;
    println!("\nshut down gracefully");
    Ok(())
}
