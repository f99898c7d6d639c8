//! [`RedisRateLimiterBuilder`] and [`StoreFailure`].

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use arc_swap::ArcSwap;

use super::super::Quota;
use super::super::common::Common;
use super::super::config::{Spec, common_setters};
use super::super::keyed::{KeyMap, MAX_KEYS};
use super::{RedisRateLimiter, SCRIPT, Shared, key};
use crate::config::check;
use crate::redis_client::{Endpoint, RedisClient};
use crate::{ConfigError, Primitive};

/// What a [`RedisRateLimiter`] does with a call when Redis cannot answer (down, slower than
/// the timeout, or answering nonsense).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreFailure {
    /// Let the call through, unchecked (the default, as Envoy's global rate limit filter):
    /// an outage of the limiter's store does not become an outage of the service.
    #[default]
    FailOpen,
    /// Refuse the call with `StoreUnavailable` (503 over HTTP): for limits that protect
    /// something that must never be overrun, such as a paid provider's hard quota.
    FailClosed,
}

/// Builds a [`RedisRateLimiter`]; start with [`RedisRateLimiter::builder`] (one Redis) or
/// [`RedisRateLimiter::cluster_builder`] (a Redis Cluster).
///
/// The rate options (`name`, `rate`, `limit`, `burst`, `max_wait`) are those of
/// [`RateLimiterBuilder`](crate::rate_limit::RateLimiterBuilder), with the same defaults and
/// checks. Then:
///
/// | option | default | |
/// |---|---|---|
/// | `url` (given to [`RedisRateLimiter::builder`]) | — | `redis://[user:password@]host[:port][/db]` |
/// | `nodes` (given to [`RedisRateLimiter::cluster_builder`]) | — | seed nodes of a cluster, `redis://[user:password@]host:port` each (at least one) |
/// | [`prefix`](Self::prefix) | `"resilience:rate_limit:"` | put before every key in Redis |
/// | [`timeout`](Self::timeout) | 100 ms | bound on each check, connecting included |
/// | [`on_store_failure`](Self::on_store_failure) | [`StoreFailure::FailOpen`] | |
/// | [`local_precheck`](Self::local_precheck) | off | keys remembered locally as over their limit |
#[derive(Clone, Debug)]
#[must_use = "a builder does nothing until `build` is called"]
pub struct RedisRateLimiterBuilder {
    pub(super) endpoint: Endpoint,
    pub(super) spec: Spec,
    pub(super) prefix: Vec<u8>,
    timeout: Duration,
    pub(super) on_failure: StoreFailure,
    pub(super) precheck_keys: usize,
}

impl RedisRateLimiterBuilder {
    pub(super) fn new(endpoint: Endpoint) -> Self {
        Self {
            endpoint,
            spec: Spec::default(),
            prefix: b"resilience:rate_limit:".to_vec(),
            timeout: Duration::from_millis(100),
            on_failure: StoreFailure::default(),
            precheck_keys: 0,
        }
    }

    common_setters!();

    /// What to put before every key in Redis (default `"resilience:rate_limit:"`), so that
    /// services sharing a database keep their limits apart. Instances of one service must
    /// use the same prefix (and name) to share a limit. On a cluster it may not hold a hash
    /// tag (`{...}`): it would replace the limit's own, and put every key in one slot.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into().into_bytes();
        self
    }

    /// How long one check may take, connecting included, before the
    /// [failure policy](Self::on_store_failure) decides (default 100 ms, longer than zero).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// What to do with a call when Redis fails or times out.
    pub fn on_store_failure(mut self, policy: StoreFailure) -> Self {
        self.on_failure = policy;
        self
    }

    /// Remembers up to `max_keys` keys that Redis refused, and refuses them locally until
    /// Redis said they would have room, without a round trip. 0 (the default) turns it off.
    pub fn local_precheck(mut self, max_keys: usize) -> Self {
        self.precheck_keys = max_keys;
        self
    }

    /// Validates the options and builds the limiter. Does not connect: the first check
    /// does (see [`RedisRateLimiter::ping`] to check Redis at startup), so a service can
    /// start while Redis is down.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] for an invalid rate option, a URL that does not parse (or a cluster
    /// without nodes, or a prefix with a hash tag on a cluster), a zero
    /// timeout, or a pre-check larger than [`MAX_KEYS`].
    pub fn build(self) -> Result<RedisRateLimiter, ConfigError> {
        let p = Primitive::RateLimit;
        let checked = self.check()?;
        let redis = RedisClient::open(&self.endpoint, checked.timeout)
            .map_err(|err| self.endpoint.refused(p, &err))?;
        let mut tag = Vec::new();
        key::escape_into(&mut tag, self.spec.name.as_bytes());
        Ok(RedisRateLimiter {
            shared: Arc::new(Shared {
                common: Common::new(self.spec.name, checked.quota, checked.max_wait),
                redis: ArcSwap::from_pointee(redis),
                endpoint: self.endpoint,
                script: redis::Script::new(SCRIPT),
                prefix: self.prefix.into_boxed_slice(),
                tag: tag.into_boxed_slice(),
                fail_closed: AtomicBool::new(self.on_failure == StoreFailure::FailClosed),
                precheck: (self.precheck_keys > 0).then(|| KeyMap::new(self.precheck_keys)),
            }),
        })
    }

    /// The checks of [`build`](Self::build), without connecting or building.
    pub(crate) fn check(&self) -> Result<Checked, ConfigError> {
        let p = Primitive::RateLimit;
        let quota = self.spec.quota()?;
        let max_wait = self.spec.checked_max_wait()?;
        let timeout = check::nonzero_duration(p, "timeout", self.timeout)?;
        if self.precheck_keys > MAX_KEYS {
            return Err(ConfigError::new(
                p,
                "local_precheck",
                format!(
                    "must be at most {MAX_KEYS} keys, got {}",
                    self.precheck_keys
                ),
            ));
        }
        self.endpoint.check_prefix(p, &self.prefix)?;
        Ok(Checked {
            quota,
            max_wait,
            timeout,
        })
    }
}

/// A builder's checked options.
pub(crate) struct Checked {
    pub(super) quota: Quota,
    pub(super) max_wait: Duration,
    pub(super) timeout: Duration,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cluster_needs_nodes_and_a_prefix_without_a_hash_tag() {
        let option =
            |builder: RedisRateLimiterBuilder| builder.rate(10.0).build().unwrap_err().option();
        assert_eq!(option(RedisRateLimiter::builder("not a url")), "url");
        assert_eq!(
            option(RedisRateLimiter::cluster_builder(Vec::<String>::new())),
            "nodes"
        );
        assert_eq!(
            option(RedisRateLimiter::cluster_builder([
                "redis://127.0.0.1:7000",
                "nope"
            ])),
            "nodes"
        );
        assert_eq!(
            option(RedisRateLimiter::cluster_builder(["redis://127.0.0.1:7000"]).prefix("{rl}:")),
            "prefix"
        );
        let limiter = RedisRateLimiter::cluster_builder(["redis://127.0.0.1:7000"])
            .rate(10.0)
            .build()
            .unwrap();
        assert!(limiter.is_cluster());
        assert!(
            !RedisRateLimiter::builder("redis://127.0.0.1/")
                .prefix("{rl}:")
                .rate(10.0)
                .build()
                .unwrap()
                .is_cluster()
        );
    }
}
