use resilience_core::classify::TransientErrors;
use tower_layer::Layer;

use super::CircuitBreaker;

/// Wraps services in a [`CircuitBreaker`] service sharing one breaker.
///
/// See the [module documentation](super) for an example.
#[derive(Clone, Debug)]
pub struct CircuitBreakerLayer<C = TransientErrors> {
    breaker: resilience_core::CircuitBreaker,
    classifier: C,
}

impl CircuitBreakerLayer {
    /// A layer recording outcomes in `breaker`, judged by [`TransientErrors`] (every `Err`
    /// fails, every `Ok` succeeds).
    pub const fn new(breaker: resilience_core::CircuitBreaker) -> Self {
        Self {
            breaker,
            classifier: TransientErrors,
        }
    }
}

impl<C> CircuitBreakerLayer<C> {
    /// Judges outcomes with `classifier` instead, e.g.
    /// [`HttpStatus`](crate::http::HttpStatus) so that an `Ok(503)` counts as a failure.
    pub fn classifier<C2>(self, classifier: C2) -> CircuitBreakerLayer<C2> {
        CircuitBreakerLayer {
            breaker: self.breaker,
            classifier,
        }
    }

    /// The breaker this layer records in.
    pub fn breaker(&self) -> &resilience_core::CircuitBreaker {
        &self.breaker
    }
}

impl<S, C: Clone> Layer<S> for CircuitBreakerLayer<C> {
    type Service = CircuitBreaker<S, C>;

    fn layer(&self, inner: S) -> Self::Service {
        CircuitBreaker::new(inner, self.breaker.clone(), self.classifier.clone())
    }
}
