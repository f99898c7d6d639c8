use tower_layer::Layer;

use super::{Bulkhead, BulkheadService};

/// Applies a [`Bulkhead`] to a service; see [`BulkheadService`].
///
/// Every service this layer builds (and every clone of those) shares the one bulkhead it
/// was given, so the limit holds across routes and connections.
#[derive(Clone, Debug)]
pub struct BulkheadLayer {
    bulkhead: Bulkhead,
}

impl BulkheadLayer {
    /// A layer enforcing `bulkhead`.
    pub const fn new(bulkhead: Bulkhead) -> Self {
        Self { bulkhead }
    }
}

impl<S> Layer<S> for BulkheadLayer {
    type Service = BulkheadService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        BulkheadService::new(inner, self.bulkhead.clone())
    }
}
