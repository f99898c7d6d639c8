use std::fmt;

use http::HeaderName;
use resilience_core::Error;
use resilience_core::classify::TransientErrors;
use resilience_core::fallback::Fallback;
use tower_layer::Layer;

use super::{FallbackService, Header, NoMark};
use crate::key::NoKey;

/// Answers failures through a [`Fallback`]; see [`FallbackService`] and the
/// [module docs](super).
pub struct FallbackLayer<T, K = (), C = TransientErrors, F = NoKey, M = NoMark> {
    pub(super) fallback: Fallback<T, Error, K>,
    pub(super) classifier: C,
    pub(super) key: F,
    pub(super) mark: M,
}

impl<T, K> FallbackLayer<T, K> {
    /// A layer answering through `fallback`, classifying with [`TransientErrors`], every
    /// request under one key, answers unmarked.
    pub fn new(fallback: Fallback<T, Error, K>) -> Self {
        Self {
            fallback,
            classifier: TransientErrors,
            key: NoKey,
            mark: NoMark,
        }
    }
}

impl<T, K, C, F, M> FallbackLayer<T, K, C, F, M> {
    /// The same layer, classifying with `classifier`.
    pub fn classifier<C2>(self, classifier: C2) -> FallbackLayer<T, K, C2, F, M> {
        FallbackLayer {
            fallback: self.fallback,
            classifier,
            key: self.key,
            mark: self.mark,
        }
    }

    /// The same layer, keying requests (for stale answers) with `key`, a
    /// [`RequestKey`](crate::key::RequestKey) whose key is the fallback's `K`.
    pub fn key<F2>(self, key: F2) -> FallbackLayer<T, K, C, F2, M> {
        FallbackLayer {
            fallback: self.fallback,
            classifier: self.classifier,
            key,
            mark: self.mark,
        }
    }

    /// The same layer, marking the answers it makes with `mark`.
    pub fn mark<M2>(self, mark: M2) -> FallbackLayer<T, K, C, F, M2> {
        FallbackLayer {
            fallback: self.fallback,
            classifier: self.classifier,
            key: self.key,
            mark,
        }
    }

    /// The same layer, setting the header `name` on every HTTP response the fallback made
    /// (value `value`, `computed` or `stale`); usually [`FALLBACK_HEADER`](super::FALLBACK_HEADER).
    pub fn header(self, name: HeaderName) -> FallbackLayer<T, K, C, F, Header> {
        self.mark(Header(name))
    }
}

impl<T, K, C: Clone, F: Clone, M: Clone> Clone for FallbackLayer<T, K, C, F, M> {
    fn clone(&self) -> Self {
        Self {
            fallback: self.fallback.clone(),
            classifier: self.classifier.clone(),
            key: self.key.clone(),
            mark: self.mark.clone(),
        }
    }
}

impl<T, K, C: fmt::Debug, F: fmt::Debug, M: fmt::Debug> fmt::Debug
    for FallbackLayer<T, K, C, F, M>
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FallbackLayer")
            .field("fallback", &self.fallback)
            .field("classifier", &self.classifier)
            .field("key", &self.key)
            .field("mark", &self.mark)
            .finish()
    }
}

impl<S, T, K, C: Clone, F: Clone, M: Clone> Layer<S> for FallbackLayer<T, K, C, F, M> {
    type Service = FallbackService<S, T, K, C, F, M>;

    fn layer(&self, inner: S) -> Self::Service {
        FallbackService {
            inner,
            layer: self.clone(),
        }
    }
}
