use resilience_core::adaptive::AdaptiveBulkhead;
use tower_layer::Layer;

use super::AdaptiveBulkheadService;
use crate::http::HttpStatus;

/// Applies an [`AdaptiveBulkhead`] to a service; see [`AdaptiveBulkheadService`].
///
/// Every service this layer builds (and every clone of those) shares the one adaptive
/// bulkhead it was given.
#[derive(Clone, Debug)]
pub struct AdaptiveBulkheadLayer<C = HttpStatus> {
    limiter: AdaptiveBulkhead,
    classifier: C,
}

impl AdaptiveBulkheadLayer {
    /// A layer enforcing `limiter`, judging outcomes by HTTP status.
    pub const fn new(limiter: AdaptiveBulkhead) -> Self {
        Self {
            limiter,
            classifier: HttpStatus::new(),
        }
    }
}

impl<C> AdaptiveBulkheadLayer<C> {
    /// The same layer judging outcomes with `classifier`.
    pub fn classifier<C2>(self, classifier: C2) -> AdaptiveBulkheadLayer<C2> {
        AdaptiveBulkheadLayer {
            limiter: self.limiter,
            classifier,
        }
    }
}

impl<S, C: Clone> Layer<S> for AdaptiveBulkheadLayer<C> {
    type Service = AdaptiveBulkheadService<S, C>;

    fn layer(&self, inner: S) -> Self::Service {
        AdaptiveBulkheadService::new(inner, self.limiter.clone(), self.classifier.clone())
    }
}
