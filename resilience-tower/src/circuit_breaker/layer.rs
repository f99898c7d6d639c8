use tower_layer::Layer;

use super::{CircuitBreaker, CircuitBreakerService};
use crate::http::HttpStatus;

/// Wraps services in a [`CircuitBreakerService`] sharing one breaker.
///
/// See the [module documentation](super) for an example, and for why the default
/// classifier is [`HttpStatus`].
#[derive(Clone, Debug)]
pub struct CircuitBreakerLayer<C = HttpStatus> {
    breaker: CircuitBreaker,
    classifier: C,
}

impl CircuitBreakerLayer {
    /// A layer recording outcomes in `breaker`, judged by [`HttpStatus`]: 5xx, 408 and
    /// 429 responses and errors (a timeout, a passed deadline) count as failures, other
    /// 4xx do not count. For a service that does not answer `http::Response`s, choose
    /// another classifier with [`classifier`](Self::classifier).
    pub const fn new(breaker: CircuitBreaker) -> Self {
        Self {
            breaker,
            classifier: HttpStatus::new(),
        }
    }
}

impl<C> CircuitBreakerLayer<C> {
    /// Judges outcomes with `classifier` instead, e.g.
    /// [`TransientErrors`](resilience_core::classify::TransientErrors) (every `Err` is a
    /// failure, every `Ok` a success) for a service that does not answer HTTP.
    pub fn classifier<C2>(self, classifier: C2) -> CircuitBreakerLayer<C2> {
        CircuitBreakerLayer {
            breaker: self.breaker,
            classifier,
        }
    }

    /// The breaker this layer records in.
    pub fn breaker(&self) -> &CircuitBreaker {
        &self.breaker
    }
}

impl<S, C: Clone> Layer<S> for CircuitBreakerLayer<C> {
    type Service = CircuitBreakerService<S, C>;

    fn layer(&self, inner: S) -> Self::Service {
        CircuitBreakerService::new(inner, self.breaker.clone(), self.classifier.clone())
    }
}
