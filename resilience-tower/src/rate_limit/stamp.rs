//! What the layer writes on the responses it lets through: the `RateLimit` headers
//! ([`RateLimitHeaders`], HTTP servers) or nothing ([`NoHeaders`], clients and services that
//! are not HTTP).

use std::fmt;
use std::sync::Arc;

use http::{HeaderValue, Response};
use resilience_core::Name;
use resilience_core::rate_limit::{Grant, RateLimit};

use super::headers::{self, RATELIMIT, RATELIMIT_POLICY};

mod sealed {
    pub trait Sealed {}
}

/// How a [`RateLimitService`](super::RateLimitService) marks the responses of requests it
/// let through: [`RateLimitHeaders`] or [`NoHeaders`].
pub trait Stamp<Res>: sealed::Sealed + Clone + Send + Sync + 'static {
    /// What a response future keeps of its grant until the response comes: the grant
    /// itself for [`RateLimitHeaders`], nothing for [`NoHeaders`].
    type Kept: Copy + fmt::Debug + Send + Sync + 'static;

    /// Keeps what [`stamp`](Self::stamp) will need of `grant`.
    fn keep(grant: Grant) -> Self::Kept;

    /// Writes what the layer adds to `response`, let through under the grant `kept`
    /// was kept from.
    fn stamp(&self, kept: &Self::Kept, response: &mut Res);
}

/// Writes `RateLimit-Policy` (fixed, built once) and `RateLimit` (what is left, one small
/// allocation per response) on HTTP responses; nothing when the limit was not consulted
/// (a Redis store that failed open).
#[derive(Clone)]
pub struct RateLimitHeaders {
    policy: Arc<Policy>,
}

struct Policy {
    name: Name,
    value: HeaderValue,
}

impl RateLimitHeaders {
    /// The headers of `limiter`'s policy.
    pub fn new(limiter: &impl RateLimit) -> Self {
        let name = limiter.name().clone();
        let value = headers::policy_value(&name, &limiter.quota());
        Self {
            policy: Arc::new(Policy { name, value }),
        }
    }
}

impl fmt::Debug for RateLimitHeaders {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimitHeaders")
            .field("policy", &self.policy.value)
            .finish()
    }
}

impl sealed::Sealed for RateLimitHeaders {}

impl<B> Stamp<Response<B>> for RateLimitHeaders {
    type Kept = Grant;

    #[inline(always)]
    fn keep(grant: Grant) -> Grant {
        grant
    }

    /// Appends to the lists, so that stacked layers each add their own policy.
    #[inline]
    fn stamp(&self, grant: &Grant, response: &mut Response<B>) {
        if !grant.is_checked() {
            return;
        }
        let policy = &self.policy;
        let headers = response.headers_mut();
        headers.append(RATELIMIT_POLICY, policy.value.clone());
        headers.append(RATELIMIT, headers::grant_value(&policy.name, grant));
    }
}

/// Writes nothing: responses pass through untouched, whatever their type.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoHeaders;

impl sealed::Sealed for NoHeaders {}

impl<Res> Stamp<Res> for NoHeaders {
    type Kept = ();

    #[inline(always)]
    fn keep(_: Grant) {}

    #[inline(always)]
    fn stamp(&self, (): &(), _: &mut Res) {}
}
