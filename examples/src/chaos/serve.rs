//! `--serve`: the hardened gateway stays up, with `/metrics` (Prometheus text) and
//! `/health` next to its routes.

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;

use super::hardening::Hardened;
use super::telemetry;

/// The hardened gateway's routes plus `/metrics` and `/health`, which are not wrapped.
pub fn router(hardened: &Hardened) -> Router {
    hardened.router.clone().route("/metrics", get(metrics))
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
