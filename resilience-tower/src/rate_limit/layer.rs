use std::sync::Arc;

use resilience_core::rate_limit::RateLimit;
use tower_layer::Layer;

use super::key::Global;
use super::{RateLimitService, Stamp};

/// Applies a rate limit to a service; see [`RateLimitService`].
///
/// Every service this layer builds (and every clone of those) takes from the one limiter
/// it was given.
#[derive(Clone, Debug)]
pub struct RateLimitLayer<L, X = Global> {
    limiter: L,
    extractor: X,
    stamp: Option<Arc<Stamp>>,
}

impl<L: RateLimit> RateLimitLayer<L, Global> {
    /// A server layer: one limit for every request (see [`key`](Self::key) for one per
    /// client), `RateLimit` and `RateLimit-Policy` headers on every response it lets
    /// through. Refusals fail with `RateLimited` (429
    /// through [`HttpErrorLayer`](crate::http::HttpErrorLayer)), or wait if the limiter
    /// has a `max_wait`.
    pub fn new(limiter: L) -> Self {
        let stamp = Some(Arc::new(Stamp::new(limiter.name(), limiter.quota())));
        Self {
            limiter,
            extractor: Global,
            stamp,
        }
    }

    /// A client layer, in front of a rate-limited provider: waits for a turn as the
    /// limiter's `max_wait` allows (set one), and leaves the provider's responses as they
    /// are (no headers written).
    pub fn client(limiter: L) -> Self {
        Self {
            limiter,
            extractor: Global,
            stamp: None,
        }
    }
}

impl<L, X> RateLimitLayer<L, X> {
    /// Limits each request by the key `extractor` picks ([`Header`](super::Header),
    /// [`PeerIp`](super::PeerIp), [`KeyFn`](super::KeyFn)) instead of one global limit.
    pub fn key<Y>(self, extractor: Y) -> RateLimitLayer<L, Y> {
        RateLimitLayer {
            limiter: self.limiter,
            extractor,
            stamp: self.stamp,
        }
    }

    /// Whether responses that get through carry `RateLimit` and `RateLimit-Policy`
    /// (on for [`new`](RateLimitLayer::new), off for [`client`](RateLimitLayer::client)).
    /// Refusals carry them either way, through the error's fields.
    #[must_use]
    pub fn headers(mut self, on: bool) -> Self
    where
        L: RateLimit,
    {
        self.stamp = on.then(|| Arc::new(Stamp::new(self.limiter.name(), self.limiter.quota())));
        self
    }
}

impl<S, L: Clone, X: Clone> Layer<S> for RateLimitLayer<L, X> {
    type Service = RateLimitService<S, L, X>;

    fn layer(&self, inner: S) -> Self::Service {
        RateLimitService::from_parts(
            inner,
            self.limiter.clone(),
            self.extractor.clone(),
            self.stamp.clone(),
        )
    }
}
