use resilience_core::health::Health;
use tower_layer::Layer;

use super::DrainService;

/// Applies a [`Health`]'s drain to a service; see [`DrainService`].
#[derive(Clone, Debug)]
pub struct DrainLayer {
    health: Health,
}

impl DrainLayer {
    /// A layer counting requests in flight for `health`, and refusing them once it drains.
    pub const fn new(health: Health) -> Self {
        Self { health }
    }
}

impl<S> Layer<S> for DrainLayer {
    type Service = DrainService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        DrainService::new(inner, self.health.clone())
    }
}
