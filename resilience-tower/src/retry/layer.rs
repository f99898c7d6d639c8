use resilience_core::classify::TransientErrors;
use resilience_core::retry::RetryPolicy;
use tower_layer::Layer;

use super::{HttpRetry, Retry};
use crate::http::HttpStatus;

/// Retries requests through a [`RetryPolicy`]; see [`Retry`].
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
    type Service = Retry<S, C>;

    fn layer(&self, inner: S) -> Self::Service {
        Retry::new(inner, self.policy.clone(), self.classifier.clone())
    }
}

/// Retries HTTP requests through a [`RetryPolicy`], buffering bodies up to a cap; see
/// [`HttpRetry`].
#[derive(Clone, Debug)]
pub struct HttpRetryLayer<C = HttpStatus> {
    policy: RetryPolicy,
    classifier: C,
    max_body: usize,
}

impl HttpRetryLayer {
    /// A layer retrying with `policy`, classifying with [`HttpStatus`], buffering bodies
    /// of up to [`HttpRetry::DEFAULT_MAX_BODY`] bytes.
    pub const fn new(policy: RetryPolicy) -> Self {
        Self {
            policy,
            classifier: HttpStatus::new(),
            max_body: HttpRetry::<()>::DEFAULT_MAX_BODY,
        }
    }
}

impl<C> HttpRetryLayer<C> {
    /// The largest body kept for replay; a request with a larger body is sent once.
    #[must_use]
    pub const fn max_body(mut self, bytes: usize) -> Self {
        self.max_body = bytes;
        self
    }

    /// The same layer, classifying with `classifier`.
    pub fn classifier<C2>(self, classifier: C2) -> HttpRetryLayer<C2> {
        HttpRetryLayer {
            policy: self.policy,
            classifier,
            max_body: self.max_body,
        }
    }
}

impl<S, C: Clone> Layer<S> for HttpRetryLayer<C> {
    type Service = HttpRetry<S, C>;

    fn layer(&self, inner: S) -> Self::Service {
        HttpRetry::new(inner, self.policy.clone(), self.classifier.clone()).max_body(self.max_body)
    }
}
