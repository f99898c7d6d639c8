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
    /// Whether `key` was chosen ([`key`](Self::key), [`shared_key`](Self::shared_key)):
    /// only then are successes kept and failures answered with stale ones.
    pub(super) keyed: bool,
    pub(super) mark: M,
}

impl<T, K> FallbackLayer<T, K> {
    /// A layer answering through `fallback`, classifying with [`TransientErrors`],
    /// answers unmarked, and no key: a [stale] fallback keeps
    /// nothing and answers with its value or closure only, until [`key`](Self::key) says
    /// which requests may share an answer (or [`shared_key`](Self::shared_key) that all
    /// may) — so that one caller is never answered with another's response.
    ///
    /// [stale]: resilience_core::fallback::FallbackBuilder::stale
    pub fn new(fallback: Fallback<T, Error, K>) -> Self {
        Self {
            fallback,
            classifier: TransientErrors,
            key: NoKey,
            keyed: false,
            mark: NoMark,
        }
    }
}

impl<T, C, M> FallbackLayer<T, (), C, NoKey, M> {
    /// The same layer, every request under one key, `()`: a failure may be answered with
    /// the last success of *any* request. Only for responses that are the same for every
    /// caller (a public price list, a feature flag set); a response that depends on who
    /// asks needs a [`key`](Self::key) that tells callers apart.
    pub fn shared_key(mut self) -> Self {
        self.keyed = true;
        self
    }
}

impl<T, K, C, F, M> FallbackLayer<T, K, C, F, M> {
    /// The same layer, classifying with `classifier`.
    pub fn classifier<C2>(self, classifier: C2) -> FallbackLayer<T, K, C2, F, M> {
        FallbackLayer {
            fallback: self.fallback,
            classifier,
            key: self.key,
            keyed: self.keyed,
            mark: self.mark,
        }
    }

    /// The same layer, keying requests (for stale answers) with `key`, a
    /// [`RequestKey`](crate::key::RequestKey) whose key gives the fallback's `K` (see
    /// [`StaleKey`](crate::key::StaleKey)): a failure may be answered with the last
    /// success of a request with the same key, so the key must tell apart callers whose
    /// responses differ (their credentials, for example). A request whose key is `None`
    /// keeps nothing and is never answered with a stale response:
    /// [`HttpKey`](crate::key::HttpKey) keys `GET`s and `HEAD`s (with a fallback keyed by
    /// [`HttpKeyOf`](crate::key::HttpKeyOf)) and gives every other request `None`; key
    /// those yourself with a [`KeyFn`](crate::key::KeyFn).
    pub fn key<F2>(self, key: F2) -> FallbackLayer<T, K, C, F2, M> {
        FallbackLayer {
            fallback: self.fallback,
            classifier: self.classifier,
            key,
            keyed: true,
            mark: self.mark,
        }
    }

    /// The same layer, marking the answers it makes with `mark`.
    pub fn mark<M2>(self, mark: M2) -> FallbackLayer<T, K, C, F, M2> {
        FallbackLayer {
            fallback: self.fallback,
            classifier: self.classifier,
            key: self.key,
            keyed: self.keyed,
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
            keyed: self.keyed,
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
            .field("keyed", &self.keyed)
            .field("mark", &self.mark)
            .finish()
    }
}

impl<S, T, K: std::hash::Hash + Eq, C: Clone, F: Clone, M: Clone> Layer<S>
    for FallbackLayer<T, K, C, F, M>
{
    type Service = FallbackService<S, T, K, C, F, M>;

    fn layer(&self, inner: S) -> Self::Service {
        if !self.keyed && self.fallback.max_age().is_some() {
            tracing::warn!(
                fallback = self.fallback.name().as_str(),
                "a stale fallback without a key keeps and serves no stale answers: \
                 call `key` (answers shared by requests with the same key) or \
                 `shared_key` (by every request)"
            );
        }
        FallbackService {
            inner,
            layer: self.clone(),
        }
    }
}
