//! The Redis connection the Redis-backed primitives share: one node or a Redis Cluster,
//! made lazily, remade by the next call after a failure, every call bounded by one timeout.
//!
//! Callers see one [`Connection`] type for both kinds, so each script is written and
//! invoked once: the cluster connection routes an `EVALSHA` by its one key, follows
//! `MOVED` and `ASK`, and refreshes its slot map when a node goes away.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClient;
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, Pipeline, RedisFuture, Value};

/// Where the data lives: what a builder was given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Endpoint {
    /// One Redis (`redis://host:port/db`).
    Node(String),
    /// The seed nodes of a Redis Cluster (`redis://host:port` each); the rest of the
    /// cluster is discovered from them.
    Cluster(Vec<String>),
}

impl Endpoint {
    /// A cluster found from `nodes`.
    pub(crate) fn cluster<S: Into<String>>(nodes: impl IntoIterator<Item = S>) -> Self {
        Self::Cluster(nodes.into_iter().map(Into::into).collect())
    }

    /// On a cluster, refuses a key prefix that holds a hash tag of its own (`{...}`):
    /// Redis would place every key by that tag, all of them in one slot, on one master.
    pub(crate) fn check_prefix(
        &self,
        primitive: crate::Primitive,
        prefix: &[u8],
    ) -> Result<(), crate::ConfigError> {
        let tagged = prefix.iter().position(|&b| b == b'{').is_some_and(|open| {
            prefix[open + 1..]
                .iter()
                .position(|&b| b == b'}')
                .is_some_and(|len| len > 0)
        });
        if tagged && matches!(self, Self::Cluster(_)) {
            return Err(crate::ConfigError::new(
                primitive,
                "prefix",
                "must not hold a hash tag (`{...}`) on a Redis Cluster: every key would be \
                 in one slot, on one master",
            ));
        }
        Ok(())
    }

    /// The build error of `primitive` when [`RedisClient::open`] refused this endpoint.
    pub(crate) fn refused(
        &self,
        primitive: crate::Primitive,
        err: &redis::RedisError,
    ) -> crate::ConfigError {
        match self {
            Self::Node(_) => {
                crate::ConfigError::new(primitive, "url", format!("is not a Redis URL: {err}"))
            }
            Self::Cluster(_) => crate::ConfigError::new(
                primitive,
                "nodes",
                format!("must be the URLs of one or more cluster nodes: {err}"),
            ),
        }
    }
}

enum Client {
    Node(Box<NodeState>),
    Cluster(Arc<ClusterState>),
}

/// One node: a connection manager, made by the first call.
struct NodeState {
    client: redis::Client,
    config: ConnectionManagerConfig,
    manager: tokio::sync::OnceCell<ConnectionManager>,
}

/// The cluster connection in use, and its replacement after a failure.
///
/// redis-rs's cluster connection follows `MOVED` and refreshes its slot map by itself, but
/// a connection that has lost a master can keep sending that master's slots to the dead
/// address long after a replica was promoted. So when a call fails in a way that says "a
/// node is gone" (I/O errors, timeouts, `CLUSTERDOWN`, `TRYAGAIN`, `MASTERDOWN`,
/// `READONLY`), a new connection discovers the topology afresh from the seed nodes (after
/// a promotion, `CLUSTER SLOTS` names the new master) and replaces the old one.
///
/// The discovery runs in a task of its own: a caller's timeout never cancels it (a seed
/// that does not answer can take the whole connection timeout), calls keep using the old
/// connection meanwhile (the other masters' slots are unaffected), one discovery runs at a
/// time, and a short pause after each keeps a long outage from becoming a stream of
/// `CLUSTER SLOTS`. Only the very first connection is waited for.
struct ClusterState {
    client: ClusterClient,
    current: Mutex<Option<ClusterConnection>>,
    /// Why the last discovery failed, for callers that found no connection.
    failed: Mutex<Option<redis::RedisError>>,
    discovering: AtomicBool,
    discovered: tokio::sync::Notify,
}

/// The pause after a discovery before another may start.
const REDISCOVERY_PAUSE: Duration = Duration::from_millis(100);

impl ClusterState {
    fn current(&self) -> Option<ClusterConnection> {
        lock(&self.current).clone()
    }

    async fn connection(self: &Arc<Self>) -> Result<Connection, redis::RedisError> {
        if let Some(conn) = self.current() {
            return Ok(self.handle(conn));
        }
        let discovered = self.discovered.notified();
        tokio::pin!(discovered);
        // Registered before looking again, so a discovery ending now still wakes us.
        discovered.as_mut().enable();
        if let Some(conn) = self.current() {
            return Ok(self.handle(conn));
        }
        self.rediscover();
        discovered.await;
        match self.current() {
            Some(conn) => Ok(self.handle(conn)),
            None => Err(lock(&self.failed).clone().unwrap_or_else(|| {
                redis::RedisError::from((
                    redis::ErrorKind::Io,
                    "no connection to the redis cluster yet",
                ))
            })),
        }
    }

    fn handle(self: &Arc<Self>, conn: ClusterConnection) -> Connection {
        Connection::Cluster(ClusterHandle {
            conn,
            state: Arc::clone(self),
        })
    }

    /// Starts a discovery unless one is under way (or just ended).
    fn rediscover(self: &Arc<Self>) {
        if self.discovering.swap(true, Ordering::AcqRel) {
            return;
        }
        let state = Arc::clone(self);
        tokio::spawn(async move {
            match state.client.get_async_connection().await {
                Ok(conn) => *lock(&state.current) = Some(conn),
                Err(err) => *lock(&state.failed) = Some(err),
            }
            state.discovered.notify_waiters();
            tokio::time::sleep(REDISCOVERY_PAUSE).await;
            state.discovering.store(false, Ordering::Release);
        });
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A cluster connection that reports its failures to its [`ClusterState`].
#[derive(Clone)]
pub(crate) struct ClusterHandle {
    conn: ClusterConnection,
    state: Arc<ClusterState>,
}

impl ClusterHandle {
    fn checked<'a, T: Send + 'a>(&self, call: RedisFuture<'a, T>) -> RedisFuture<'a, T> {
        let state = Arc::clone(&self.state);
        Box::pin(async move {
            let result = call.await;
            if let Err(err) = &result {
                if node_gone(err) {
                    state.rediscover();
                }
            }
            result
        })
    }
}

/// Whether `err` says a node is unreachable, the cluster is reconfiguring, or the request
/// reached a replica (`READONLY`: the slot map is stale), as opposed to an answer (a
/// script error, a wrong type).
fn node_gone(err: &redis::RedisError) -> bool {
    use redis::{ErrorKind, ServerErrorKind};
    err.is_io_error()
        || err.is_timeout()
        || err.is_connection_dropped()
        || err.is_connection_refusal()
        || matches!(
            err.kind(),
            ErrorKind::ClusterConnectionNotFound
                | ErrorKind::Server(
                    ServerErrorKind::ClusterDown
                        | ServerErrorKind::TryAgain
                        | ServerErrorKind::MasterDown
                        | ServerErrorKind::ReadOnly
                )
        )
}

pub(crate) struct RedisClient {
    client: Client,
    timeout: Duration,
}

/// A connection to one node or to a cluster; cheap to clone (both are multiplexed).
#[derive(Clone)]
pub(crate) enum Connection {
    Node(ConnectionManager),
    Cluster(ClusterHandle),
}

impl redis::aio::ConnectionLike for Connection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Self::Node(conn) => conn.req_packed_command(cmd),
            Self::Cluster(handle) => {
                let call = handle.conn.clone();
                handle.checked(Box::pin(async move {
                    let mut conn = call;
                    conn.req_packed_command(cmd).await
                }))
            }
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        cmd: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Self::Node(conn) => conn.req_packed_commands(cmd, offset, count),
            Self::Cluster(handle) => {
                let call = handle.conn.clone();
                handle.checked(Box::pin(async move {
                    let mut conn = call;
                    conn.req_packed_commands(cmd, offset, count).await
                }))
            }
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Node(conn) => conn.get_db(),
            Self::Cluster(handle) => handle.conn.get_db(),
        }
    }
}

impl RedisClient {
    /// A client for `endpoint`, not connected yet. `timeout` bounds each call, connecting
    /// included.
    pub(crate) fn open(endpoint: &Endpoint, timeout: Duration) -> Result<Self, redis::RedisError> {
        let client = match endpoint {
            Endpoint::Node(url) => Client::Node(Box::new(NodeState {
                client: redis::Client::open(url.as_str())?,
                // Fail fast instead of retrying inside a call: every call is bounded by
                // `timeout`, and the next call after a failure reconnects.
                config: ConnectionManagerConfig::new()
                    .set_number_of_retries(0)
                    .set_connection_timeout(Some(timeout))
                    .set_response_timeout(Some(timeout)),
                manager: tokio::sync::OnceCell::new(),
            })),
            Endpoint::Cluster(nodes) => {
                if nodes.is_empty() {
                    return Err(redis::RedisError::from((
                        redis::ErrorKind::InvalidClientConfig,
                        "no seed node given",
                    )));
                }
                Client::Cluster(Arc::new(ClusterState {
                    client: cluster_client(nodes, timeout)?,
                    current: Mutex::new(None),
                    failed: Mutex::new(None),
                    discovering: AtomicBool::new(false),
                    discovered: tokio::sync::Notify::new(),
                }))
            }
        };
        Ok(Self { client, timeout })
    }

    pub(crate) fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Whether this is a Redis Cluster client.
    pub(crate) fn is_cluster(&self) -> bool {
        matches!(self.client, Client::Cluster(_))
    }

    /// Whether a connection has been made (it may have failed since).
    pub(crate) fn is_connected(&self) -> bool {
        match &self.client {
            Client::Node(node) => node.manager.initialized(),
            Client::Cluster(state) => state.current().is_some(),
        }
    }

    /// The shared, multiplexed connection. For a cluster, the first call discovers the
    /// topology from the seed nodes; a call that fails to leaves the next call to try again.
    pub(crate) async fn connection(&self) -> Result<Connection, redis::RedisError> {
        match &self.client {
            Client::Node(node) => node
                .manager
                .get_or_try_init(|| async {
                    ConnectionManager::new_lazy_with_config(
                        node.client.clone(),
                        node.config.clone(),
                    )
                })
                .await
                .cloned()
                .map(Connection::Node),
            Client::Cluster(state) => state.connection().await,
        }
    }

    /// Runs `call` within the timeout; `timed_out` makes the error when it runs out.
    pub(crate) async fn bounded<T, E>(
        &self,
        call: impl Future<Output = Result<T, E>>,
        timed_out: impl FnOnce(std::io::Error) -> E,
    ) -> Result<T, E> {
        match tokio::time::timeout(self.timeout, call).await {
            Ok(result) => result,
            Err(_) => {
                if let Client::Cluster(state) = &self.client {
                    // A node may be gone: find the topology afresh.
                    state.rediscover();
                }
                Err(timed_out(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!("redis did not answer within {:?}", self.timeout),
                )))
            }
        }
    }
}

/// A cluster client whose retries fit in `timeout`: redis-rs retries a request that met a
/// dropped connection, `MOVED`, `TRYAGAIN` or `CLUSTERDOWN` (refreshing its slot map), but
/// its default waits between retries (over a second each) would outlast any timeout worth
/// having. Short waits let a call that started just before a failover finish on the new
/// master when the promotion is quick; the overall bound is `timeout` either way.
fn cluster_client(nodes: &[String], timeout: Duration) -> Result<ClusterClient, redis::RedisError> {
    let max_wait = u64::try_from((timeout / 4).as_millis())
        .unwrap_or(u64::MAX)
        .max(20);
    ClusterClient::builder(nodes.iter().map(String::as_str))
        .connection_timeout(timeout)
        .response_timeout(timeout)
        .overall_response_timeout(Some(timeout))
        .retries(16)
        .min_retry_wait(10)
        .max_retry_wait(max_wait)
        .build()
}
