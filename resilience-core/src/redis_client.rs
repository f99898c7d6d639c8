//! The Redis connection the Redis-backed primitives share: made lazily, remade by the next
//! call after a failure, every call bounded by one timeout.

use std::future::Future;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

pub(crate) struct RedisClient {
    client: redis::Client,
    config: ConnectionManagerConfig,
    manager: tokio::sync::OnceCell<ConnectionManager>,
    timeout: Duration,
}

impl RedisClient {
    /// A client for `url`, not connected yet. `timeout` bounds each call, connecting
    /// included.
    pub(crate) fn open(url: &str, timeout: Duration) -> Result<Self, redis::RedisError> {
        let client = redis::Client::open(url)?;
        // Fail fast instead of retrying inside a call: every call is bounded by `timeout`,
        // and the next call after a failure reconnects.
        let config = ConnectionManagerConfig::new()
            .set_number_of_retries(0)
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout));
        Ok(Self {
            client,
            config,
            manager: tokio::sync::OnceCell::new(),
            timeout,
        })
    }

    pub(crate) fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Whether a connection has been made (it may have failed since).
    pub(crate) fn is_connected(&self) -> bool {
        self.manager.initialized()
    }

    /// The shared, multiplexed connection.
    pub(crate) async fn connection(&self) -> Result<ConnectionManager, redis::RedisError> {
        self.manager
            .get_or_try_init(|| async {
                ConnectionManager::new_lazy_with_config(self.client.clone(), self.config.clone())
            })
            .await
            .cloned()
    }

    /// Runs `call` within the timeout; `timed_out` makes the error when it runs out.
    pub(crate) async fn bounded<T, E>(
        &self,
        call: impl Future<Output = Result<T, E>>,
        timed_out: impl FnOnce(std::io::Error) -> E,
    ) -> Result<T, E> {
        match tokio::time::timeout(self.timeout, call).await {
            Ok(result) => result,
            Err(_) => Err(timed_out(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("redis did not answer within {:?}", self.timeout),
            ))),
        }
    }
}
