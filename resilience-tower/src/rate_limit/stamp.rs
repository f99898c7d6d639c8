//! What the layer writes on the responses it lets through: the `RateLimit` headers
//! ([`RateLimitHeaders`], HTTP servers) or nothing ([`NoHeaders`], clients and services that
//! are not HTTP).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;

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

/// Writes `RateLimit-Policy` (the quota the request was admitted under: built once, and
/// again after the limiter is reconfigured) and `RateLimit` (what is left, one small
/// allocation per response) on HTTP responses; nothing when the limit was not consulted
/// (a Redis store that failed open).
#[derive(Clone)]
pub struct RateLimitHeaders {
    policy: Arc<Policy>,
}

struct Policy {
    name: Name,
    /// The `RateLimit-Policy` value of the quota last seen.
    current: ArcSwap<PolicyValue>,
}

struct PolicyValue {
    limit: u64,
    window: Duration,
    value: HeaderValue,
}

impl PolicyValue {
    fn new(name: &str, limit: u64, window: Duration) -> Self {
        Self {
            limit,
            window,
            value: headers::policy(name, limit, window),
        }
    }
}

impl Policy {
    /// The `RateLimit-Policy` value of the quota `grant` was made under.
    fn value(&self, grant: &Grant) -> HeaderValue {
        let current = self.current.load();
        let (limit, window) = (grant.limit(), grant.window());
        if current.limit == limit && current.window == window {
            return current.value.clone();
        }
        // The limiter was reconfigured: the quota the request was admitted under.
        let fresh = PolicyValue::new(&self.name, limit, window);
        let value = fresh.value.clone();
        self.current.store(Arc::new(fresh));
        value
    }
}

impl RateLimitHeaders {
    /// The headers of `limiter`'s policy.
    pub fn new(limiter: &impl RateLimit) -> Self {
        let name = limiter.name().clone();
        let quota = limiter.quota();
        let current = PolicyValue::new(&name, u64::from(quota.burst()), quota.refill());
        Self {
            policy: Arc::new(Policy {
                name,
                current: ArcSwap::from_pointee(current),
            }),
        }
    }
}

impl fmt::Debug for RateLimitHeaders {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimitHeaders")
            .field("policy", &self.policy.current.load().value)
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
        headers.append(RATELIMIT_POLICY, policy.value(grant));
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
