use resilience_core::throttle::AdaptiveThrottle;
use tower_layer::Layer;

use super::{AdaptiveThrottleService, HttpRejections};

/// Applies an [`AdaptiveThrottle`] to a (client) service; see [`AdaptiveThrottleService`].
///
/// Every service this layer builds (and every clone of those) shares the one throttle it
/// was given.
#[derive(Clone, Debug)]
pub struct AdaptiveThrottleLayer<R = HttpRejections> {
    throttle: AdaptiveThrottle,
    judge: R,
}

impl AdaptiveThrottleLayer {
    /// A layer throttling with `throttle`, counting `503` and `429` answers as rejections.
    pub const fn new(throttle: AdaptiveThrottle) -> Self {
        Self {
            throttle,
            judge: HttpRejections,
        }
    }
}

impl<R> AdaptiveThrottleLayer<R> {
    /// The same layer judging rejections with `judge`.
    pub fn judge<R2>(self, judge: R2) -> AdaptiveThrottleLayer<R2> {
        AdaptiveThrottleLayer {
            throttle: self.throttle,
            judge,
        }
    }
}

impl<S, R: Clone> Layer<S> for AdaptiveThrottleLayer<R> {
    type Service = AdaptiveThrottleService<S, R>;

    fn layer(&self, inner: S) -> Self::Service {
        AdaptiveThrottleService::new(inner, self.throttle.clone(), self.judge.clone())
    }
}
