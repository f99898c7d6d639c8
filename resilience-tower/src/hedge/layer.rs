use resilience_core::classify::TransientErrors;
use resilience_core::hedge::Hedge;
use tower_layer::Layer;

use super::HedgeService;

/// Hedges requests through a [`Hedge`]; see [`HedgeService`].
#[derive(Clone, Debug)]
pub struct HedgeLayer<C = TransientErrors> {
    hedge: Hedge,
    classifier: C,
}

impl HedgeLayer {
    /// A layer hedging with `hedge`, classifying with [`TransientErrors`].
    pub const fn new(hedge: Hedge) -> Self {
        Self {
            hedge,
            classifier: TransientErrors,
        }
    }
}

impl<C> HedgeLayer<C> {
    /// The same layer, classifying with `classifier`.
    pub fn classifier<C2>(self, classifier: C2) -> HedgeLayer<C2> {
        HedgeLayer {
            hedge: self.hedge,
            classifier,
        }
    }
}

impl<S, C: Clone> Layer<S> for HedgeLayer<C> {
    type Service = HedgeService<S, C>;

    fn layer(&self, inner: S) -> Self::Service {
        HedgeService::new(inner, self.hedge.clone(), self.classifier.clone())
    }
}
