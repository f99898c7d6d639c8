//! `--serve`: the hardened gateway stays up, with `/metrics` (Prometheus text) and
//! `/health` next to its routes.
//!
//! `/health` answers from the primitives' own state: every circuit breaker in the
//! [`Registry`] (state, failure rate, calls in the window) and every bulkhead in it (in
//! flight, capacity). It is `200` while no breaker is open and `503` otherwise, so a load balancer
//! can take an instance whose dependency is down out of rotation.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use resilience_core::Registry;
use resilience_core::circuit_breaker::State as BreakerState;
use serde_json::{Value, json};

use super::hardening::Hardened;
use super::telemetry;

/// The hardened gateway's routes plus `/metrics` and `/health`, which are not wrapped.
pub fn router(hardened: &Hardened) -> Router {
    let health = Router::new()
        .route("/health", get(health))
        .with_state(Arc::clone(&hardened.registry));
    hardened
        .router
        .clone()
        .route("/metrics", get(metrics))
        .merge(health)
}

/// The health report of everything in `registry`: `(healthy, body)`; healthy while no
/// breaker is open.
#[must_use]
pub fn health_report(registry: &Registry) -> (bool, Value) {
    let snapshot = registry.snapshot();
    let healthy = snapshot
        .circuit_breakers
        .iter()
        .all(|b| !matches!(b.state, BreakerState::Open | BreakerState::ForcedOpen));
    let breakers: Vec<Value> = snapshot
        .circuit_breakers
        .iter()
        .map(|b| {
            json!({
                "name": b.name.as_str(),
                "state": b.state.as_str(),
                "failure_rate": b.failure_rate,
                "calls": b.calls,
                "failed_calls": b.failed_calls,
                "seconds_in_state": b.time_in_state.as_secs_f64(),
            })
        })
        .collect();
    let bulkheads: Vec<Value> = snapshot
        .bulkheads
        .iter()
        .map(|s| {
            json!({
                "name": s.name.as_str(),
                "in_flight": s.in_flight,
                "capacity": s.capacity,
                "waiting": s.waiting,
            })
        })
        .collect();
    let body = json!({
        "status": if healthy { "up" } else { "degraded" },
        "circuit_breakers": breakers,
        "bulkheads": bulkheads,
    });
    (healthy, body)
}

async fn health(State(registry): State<Arc<Registry>>) -> impl IntoResponse {
    let (healthy, body) = health_report(&registry);
    let status = if healthy {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body))
}

async fn metrics() -> impl IntoResponse {
    match telemetry::prometheus() {
        Some(handle) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
            handle.render(),
        ),
        None => (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::CONTENT_TYPE, "text/plain")],
            "no Prometheus recorder installed\n".to_owned(),
        ),
    }
}
