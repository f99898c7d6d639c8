//! A health endpoint and a Prometheus endpoint read from the primitives themselves.
//!
//! Run: `cargo run -p resilience-examples --bin health`
//!
//! A breaker and a bulkhead live in a `Registry`. `/health` lists their snapshots and
//! answers 503 while a breaker is open, so a load balancer takes the instance out;
//! `/metrics` renders the `resilience_*` metrics with `metrics-exporter-prometheus`. The
//! program fails a dependency until the breaker opens, prints both endpoints, and exits.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use resilience_core::circuit_breaker::State as BreakerState;
use resilience_core::{BoxError, Registry};
use serde_json::{Value, json};

async fn health(State(registry): State<Arc<Registry>>) -> (StatusCode, Json<Value>) {
    let snapshot = registry.snapshot();
    let open = snapshot
        .circuit_breakers
        .iter()
        .any(|b| matches!(b.state, BreakerState::Open | BreakerState::ForcedOpen));
    let breakers: Vec<Value> = snapshot
        .circuit_breakers
        .iter()
        .map(|b| json!({ "name": b.name.as_str(), "state": b.state.as_str(), "failure_rate": b.failure_rate }))
        .collect();
    let bulkheads: Vec<Value> = snapshot
        .bulkheads
        .iter()
        .map(|b| json!({ "name": b.name.as_str(), "in_flight": b.in_flight, "capacity": b.capacity }))
        .collect();
    let status = if open {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    (
        status,
        Json(json!({ "circuit_breakers": breakers, "bulkheads": bulkheads })),
    )
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    // Install the exporter first, so the primitives' metric handles bind to it.
    let prometheus: PrometheusHandle = PrometheusBuilder::new().install_recorder()?;
    resilience_core::telemetry::describe();

    let registry = Arc::new(Registry::new());
    let breaker = registry.circuit_breaker("inventory", |b| {
        b.count_window(10)
            .minimum_calls(5)
            .open_duration(Duration::from_secs(30))
    })?;
    let bulkhead = registry.bulkhead("inventory", |b| b.max_concurrent(8))?;

    let app = Router::new()
        .route("/health", get(health))
        .with_state(Arc::clone(&registry))
        .route("/metrics", get(move || async move { prometheus.render() }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, app).await });
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

    let (status, body) = get("/health").await?;
    println!("GET /health while inventory works: {status}\n{body}\n");

    // Inventory fails: each call takes a bulkhead permit and asks the breaker.
    for _ in 0..5 {
        let _permit = bulkhead.try_acquire()?;
        breaker
            .call(async { Err::<(), _>("inventory: connection refused") })
            .await
            .ok();
    }

    let (status, body) = get("/health").await?;
    println!("GET /health after five failures: {status}\n{body}\n");
    let (_, metrics) = get("/metrics").await?;
    println!("GET /metrics (resilience_circuit lines):");
    metrics
        .lines()
        .filter(|l| l.starts_with("resilience_circuit"))
        .for_each(|l| println!("  {l}"));
    Ok(())
}
