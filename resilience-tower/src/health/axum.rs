//! [`router`]: the liveness and readiness routes as an `axum::Router`.

use axum::Router;
use resilience_core::health::Health;

use super::HealthService;

/// `/live` ([`Health::liveness`]) and `/ready` ([`Health::readiness`]), answering any
/// method, without check outputs in the bodies. Merge it *after* the layers that wrap
/// your routes (`Router::layer` applies to the routes added before it), so that probes
/// are neither shed by a bulkhead nor refused while draining. For other paths or exposed
/// outputs, route [`HealthService`]s yourself.
///
/// ```
/// use axum::{Router, routing::get};
/// use resilience_core::health::Health;
/// use resilience_tower::health::{DrainLayer, router};
/// use resilience_tower::http::HttpErrorLayer;
/// use tower::ServiceBuilder;
///
/// let health = Health::builder().build().unwrap();
/// let app: Router = Router::new()
///     .route("/orders", get(|| async { "orders" }))
///     .layer(
///         ServiceBuilder::new()
///             .layer(HttpErrorLayer::new())
///             .layer(DrainLayer::new(health.clone())),
///     )
///     .merge(router(health));
/// # let _ = app;
/// ```
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
pub fn router<S>(health: Health) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    Router::new()
        .route_service("/live", HealthService::liveness(health.clone()))
        .route_service("/ready", HealthService::readiness(health))
}
