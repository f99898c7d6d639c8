use resilience_core::classify::TransientErrors;
use resilience_core::retry::RetryPolicy;
use tower_layer::Layer;

use super::RetryService;

/// Retries requests through a [`RetryPolicy`]; see [`RetryService`].
#[derive(Clone, Debug)]
pub struct RetryLayer<C = TransientErrors> {
    policy: RetryPolicy,
    classifier: C,
}

impl RetryLayer {
    /// A layer retrying with `policy`, classifying with [`TransientErrors`].
    pub const fn new(policy: RetryPolicy) -> Self {
        Self {
            policy,
            classifier: TransientErrors,
        }
    }
}

impl<C> RetryLayer<C> {
    /// The same layer, classifying with `classifier`.
    pub fn classifier<C2>(self, classifier: C2) -> RetryLayer<C2> {
        RetryLayer {
            policy: self.policy,
            classifier,
        }
    }
}

impl<S, C: Clone> Layer<S> for RetryLayer<C> {
    type Service = RetryService<S, C>;

    fn layer(&self, inner: S) -> Self::Service {
        RetryService::new(inner, self.policy.clone(), self.classifier.clone())
    }
}
