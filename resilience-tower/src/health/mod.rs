//! Health endpoints and graceful shutdown over HTTP, for a
//! [`resilience_core::health::Health`]: liveness and readiness answering 200 / 503 in the
//! IETF health check response format (`application/health+json`), and [`DrainLayer`],
//! which refuses new requests while the ones in flight finish.
//!
//! ```
//! use axum::{Router, body::Body, routing::get};
//! use http::{Request, StatusCode};
//! use resilience_core::Registry;
//! use resilience_core::health::{Check, Health};
//! use resilience_tower::health::{DrainLayer, HEALTH_JSON, router};
//! use resilience_tower::http::HttpErrorLayer;
//! use tower::{ServiceBuilder, ServiceExt};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), resilience_core::BoxError> {
//! let health = Health::builder()
//!     .check(Check::new("postgres", || async { Ok::<(), std::io::Error>(()) }))
//!     .registry(Registry::global()) // every breaker and bulkhead, by name
//!     .build()?;
//!
//! let app = Router::new()
//!     .route("/orders", get(|| async { "orders" }))
//!     // While draining: 503 problem+json for new requests; in-flight ones are counted.
//!     .layer(ServiceBuilder::new().layer(HttpErrorLayer::new()).layer(DrainLayer::new(health.clone())))
//!     // `/live` and `/ready`, outside the layers: probes are answered until the end.
//!     .merge(router(health.clone()));
//!
//! let ready = || Request::get("/ready").body(Body::empty()).unwrap();
//! // Not ready before `startup` (startup checks, if any, retried with backoff).
//! assert_eq!(app.clone().oneshot(ready()).await?.status(), StatusCode::SERVICE_UNAVAILABLE);
//! health.startup().await?;
//! let answer = app.oneshot(ready()).await?;
//! assert_eq!(answer.status(), StatusCode::OK);
//! assert_eq!(answer.headers()["content-type"], HEALTH_JSON);
//! # Ok(()) }
//! ```
//!
//! Serving it, with a graceful shutdown bounded by the drain timeout:
//!
//! ```no_run
//! # use resilience_core::health::Health;
//! # async fn serve(
//! #     health: Health,
//! #     app: axum::Router,
//! #     sigterm: impl std::future::Future<Output = ()> + Send + 'static,
//! # ) -> Result<(), resilience_core::BoxError> {
//! let listener = tokio::net::TcpListener::bind("0.0.0.0:8080").await?;
//! // `sigterm`: e.g. `async { tokio::signal::ctrl_c().await.ok(); }`. When it completes,
//! // readiness fails; after the shutdown delay the server stops accepting and
//! // `DrainLayer` refuses new requests.
//! let server = axum::serve(listener, app).with_graceful_shutdown(health.shutdown_signal(sigterm));
//! let serving = tokio::spawn(health.drain(server));
//! health.startup().await?; // readiness passes from here
//! serving.await???;        // Err: requests still running at the drain timeout
//! # Ok(()) }
//! ```
//!
//! # The body
//!
//! ```json
//! {"status":"fail","checks":{
//!   "lifecycle":[{"componentType":"system","observedValue":"ready","status":"pass","time":"2026-01-17T03:36:48.120Z"}],
//!   "postgres":[{"status":"fail","time":"2026-01-17T03:36:48.118Z"}],
//!   "payments:circuitBreaker":[{"componentType":"component","observedValue":"closed","status":"pass","time":"2026-01-17T03:36:48.120Z"}]}}
//! ```
//!
//! `status` is `pass` or `warn` with 200, `fail` with 503. A check's `output` (its error
//! text) is left out unless [`HealthService::expose_output`] is set: error text can name
//! hosts, users and queries, and is in the logs (a WARN event when a check starts
//! failing) for those who may see it. Responses carry `Cache-Control: no-store`.

pub mod drain;
mod response;
mod service;

#[cfg(feature = "axum")]
mod axum;

#[cfg(feature = "axum")]
pub use self::axum::router;
pub use drain::{DrainLayer, DrainService};
pub use resilience_core::health::{Check, Health};
pub use response::{HEALTH_JSON, response};
pub use service::{HealthService, ResponseFuture};
