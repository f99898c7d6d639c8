use resilience_core::rate_limit::RateLimit;
use tower_layer::Layer;

use super::RateLimitService;
use super::key::Global;
use super::stamp::{NoHeaders, RateLimitHeaders};

/// Applies a rate limit to a service; see [`RateLimitService`].
///
/// Every service this layer builds (and every clone of those) takes from the one limiter
/// it was given.
#[derive(Clone, Debug)]
pub struct RateLimitLayer<L, X = Global, H = RateLimitHeaders> {
    limiter: L,
    extractor: X,
    stamp: H,
}

impl<L: RateLimit> RateLimitLayer<L, Global, RateLimitHeaders> {
    /// A server layer: one limit for every request (see [`key`](Self::key) for one per
    /// client), `RateLimit` and `RateLimit-Policy` headers on every response it lets
    /// through. Refusals fail with `RateLimited` (429 through
    /// [`HttpErrorLayer`](crate::http::HttpErrorLayer)), or wait if the limiter has a
    /// `max_wait`.
    pub fn new(limiter: L) -> Self {
        let stamp = RateLimitHeaders::new(&limiter);
        Self {
            limiter,
            extractor: Global,
            stamp,
        }
    }
}

impl<L: RateLimit> RateLimitLayer<L, Global, NoHeaders> {
    /// A client layer, in front of a rate-limited provider: waits for a turn as the
    /// limiter's `max_wait` allows (set one), and leaves the provider's responses as they
    /// are. Any service, HTTP or not.
    pub fn client(limiter: L) -> Self {
        Self {
            limiter,
            extractor: Global,
            stamp: NoHeaders,
        }
    }
}

impl<L, X, H> RateLimitLayer<L, X, H> {
    /// Limits each request by the key `extractor` picks ([`Header`](super::Header),
    /// [`PeerIp`](super::PeerIp), [`KeyFn`](super::KeyFn)) instead of one global limit.
    pub fn key<Y>(self, extractor: Y) -> RateLimitLayer<L, Y, H> {
        RateLimitLayer {
            limiter: self.limiter,
            extractor,
            stamp: self.stamp,
        }
    }

    /// Writes no `RateLimit` headers on the responses that get through (refusals carry
    /// them either way, through the error's fields).
    pub fn without_headers(self) -> RateLimitLayer<L, X, NoHeaders> {
        RateLimitLayer {
            limiter: self.limiter,
            extractor: self.extractor,
            stamp: NoHeaders,
        }
    }
}

impl<S, L: Clone, X: Clone, H: Clone> Layer<S> for RateLimitLayer<L, X, H> {
    type Service = RateLimitService<S, L, X, H>;

    fn layer(&self, inner: S) -> Self::Service {
        RateLimitService::from_parts(
            inner,
            self.limiter.clone(),
            self.extractor.clone(),
            self.stamp.clone(),
        )
    }
}
