use tower_layer::Layer;

use super::Bulkhead;

/// Applies a [`resilience_core::bulkhead::Bulkhead`] to a service; see [`Bulkhead`].
///
/// Every service this layer builds (and every clone of those) shares the one bulkhead it
/// was given, so the limit holds across routes and connections.
#[derive(Clone, Debug)]
pub struct BulkheadLayer {
    bulkhead: resilience_core::bulkhead::Bulkhead,
}

impl BulkheadLayer {
    /// A layer enforcing `bulkhead`.
    pub const fn new(bulkhead: resilience_core::bulkhead::Bulkhead) -> Self {
        Self { bulkhead }
    }
}

impl<S> Layer<S> for BulkheadLayer {
    type Service = Bulkhead<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Bulkhead::new(inner, self.bulkhead.clone())
    }
}
