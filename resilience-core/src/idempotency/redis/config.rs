//! The Redis store's builder.

use std::sync::Arc;
use std::time::Duration;

use super::{RedisStore, Shared, scripts};
use crate::config::check;
use crate::redis_client::{Endpoint, RedisClient};
use crate::{ConfigError, Name, Primitive};

/// Builds a [`RedisStore`]; start with [`RedisStore::builder`] (one Redis) or
/// [`RedisStore::cluster_builder`] (a Redis Cluster).
///
/// | option | default | |
/// |---|---|---|
/// | `url` (given to [`RedisStore::builder`]) | — | `redis://[user:password@]host[:port][/db]`, or `rediss://` with a TLS feature of `redis` |
/// | `nodes` (given to [`RedisStore::cluster_builder`]) | — | seed nodes of a cluster, `redis://[user:password@]host:port` each (at least one) |
/// | [`prefix`](Self::prefix) | `"resilience:idempotency:"` | put before every key in Redis |
/// | [`timeout`](Self::timeout) | 500 ms, as redis-rs's response timeout | bound on each store call, connecting included |
/// | [`name`](Self::name) | `"redis"` | instance name in errors |
#[derive(Debug, Clone)]
#[must_use]
pub struct RedisStoreBuilder {
    endpoint: Endpoint,
    prefix: Vec<u8>,
    timeout: Duration,
    name: Name,
}

impl RedisStoreBuilder {
    pub(super) fn new(endpoint: Endpoint) -> Self {
        Self {
            endpoint,
            prefix: b"resilience:idempotency:".to_vec(),
            timeout: Duration::from_millis(500),
            name: Name::from_static("redis"),
        }
    }

    /// What to put before every key in Redis (default `"resilience:idempotency:"`), so that
    /// several services, or several stores of one service, can share a database. May be
    /// empty. On a cluster it may not hold a hash tag (`{...}`), which would put every key
    /// in one slot.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into().into_bytes();
        self
    }

    /// How long one store call may take, connecting included, before it fails with
    /// [`StoreUnavailable`](crate::ErrorKind::StoreUnavailable) (default 500 ms, as
    /// redis-rs's response timeout). A hung Redis then costs each request at most this long.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The instance name, carried by this store's errors.
    pub fn name(mut self, name: impl Into<Name>) -> Self {
        self.name = name.into();
        self
    }

    /// Validates the options and builds the store. Does not connect: the connection is made
    /// by the first call (see [`RedisStore::ping`] to check it at startup), so a service can
    /// start while Redis is down and recover when it comes back.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] when the URL (or a node's URL) does not parse, a cluster is given
    /// no node or a prefix with a hash tag, or `timeout` is zero.
    pub fn build(self) -> Result<RedisStore, ConfigError> {
        let p = Primitive::Idempotency;
        let timeout = check::nonzero_duration(p, "timeout", self.timeout)?;
        self.endpoint.check_prefix(p, &self.prefix)?;
        let redis = RedisClient::open(&self.endpoint, timeout)
            .map_err(|err| self.endpoint.refused(p, &err))?;
        Ok(RedisStore {
            shared: Arc::new(Shared {
                name: self.name,
                prefix: self.prefix.into_boxed_slice(),
                redis,
                scripts: scripts::Scripts::new(),
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_options_are_refused() {
        let err = RedisStore::builder("http://example.test/")
            .build()
            .unwrap_err();
        assert_eq!(err.option(), "url");
        let err = RedisStore::builder("not a url").build().unwrap_err();
        assert_eq!(err.option(), "url");
        let err = RedisStore::builder("redis://127.0.0.1/")
            .timeout(Duration::ZERO)
            .build()
            .unwrap_err();
        assert_eq!(err.option(), "timeout");
        assert!(
            RedisStore::builder("redis://127.0.0.1:6390/2")
                .build()
                .is_ok()
        );
        let err = RedisStore::cluster_builder(Vec::<String>::new())
            .build()
            .unwrap_err();
        assert_eq!(err.option(), "nodes");
        let err = RedisStore::cluster_builder(["redis://127.0.0.1:7000", "not a url"])
            .build()
            .unwrap_err();
        assert_eq!(err.option(), "nodes");
        let store =
            RedisStore::cluster_builder(["redis://127.0.0.1:7000", "redis://127.0.0.1:7001"])
                .build()
                .unwrap();
        assert!(store.is_cluster());
    }
}
