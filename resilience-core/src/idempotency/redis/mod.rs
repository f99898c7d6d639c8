//! The Redis store (feature `redis`).

mod codec;
mod config;
mod scripts;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

pub use config::RedisStoreBuilder;

use super::store::{BoxFuture, Claim, Commit, Fingerprint, IdempotencyStore, Lease, Record};
use crate::redis_client::{Connection, Endpoint, RedisClient};
use crate::{BoxError, Error, ErrorKind, Name, Primitive};

/// The longest TTL sent to Redis; longer ones are capped (Redis refuses expiry times that
/// overflow its clock).
const MAX_TTL_MS: u64 = 100 * 365 * 24 * 60 * 60 * 1000;

/// An idempotency store in Redis (one node or a [Redis Cluster](#redis-cluster)), shared by
/// every instance of a service: a duplicate that reaches another instance ten minutes later
/// still finds the first one's result.
///
/// ```no_run
/// use std::time::Duration;
///
/// use resilience_core::idempotency::RedisStore;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let store = RedisStore::builder("redis://127.0.0.1:6379/")
///     .prefix("checkout:idempotency:")
///     .timeout(Duration::from_millis(200))
///     .build()?;
/// store.ping().await?; // optional: check Redis at startup
/// # Ok(()) }
/// ```
///
/// # How it works
///
/// Each key lives under `prefix + key` (Redis keys are binary-safe, so any key is fine) and
/// holds either a lease or a record, in a small versioned binary format (below). Every call
/// is one Lua script, so one round trip, atomic in Redis:
///
/// - **claim**: `SET key lease NX PX lock_ttl`; when the key exists, the same script
///   compares fingerprints and returns the existing lease or record with its `PTTL`, which
///   the store turns into [`Claim::InFlight`] (with `lease_expires_in`),
///   [`Claim::Completed`] or [`Claim::Mismatch`].
/// - **complete**: if the key still holds this very lease, `SET key record PX ttl`;
///   otherwise [`Commit::Stale`].
/// - **release**: if the key still holds this very lease, `DEL key`; otherwise stale.
///
/// Redis enforces the TTLs: an abandoned lease disappears after its lock TTL, a record
/// after its TTL.
///
/// # Fencing tokens
///
/// A lease's token is a random `u64` drawn per claim (no counter key, so nothing is shared
/// between keys and the scripts stay single-key, as Redis Cluster requires). Two claims of
/// one key get the same token with probability 2⁻⁶⁴; the lease value compared by complete
/// and release also holds the fingerprint.
///
/// # Record format (version 1)
///
/// ```text
/// lease (in flight):  01 'L' fingerprint[32] token:u64be                        (42 bytes)
/// record (completed): 01 'R' fingerprint[32] status:u16be header_count:u32be
///                     header_count × ( name_len:u32be name value_len:u32be value )
///                     body (the rest of the value)
/// ```
///
/// The fingerprint sits at the same offset in both, so the claim script compares it
/// without decoding. A value of another version is refused (`StoreUnavailable` with the
/// decoding error as source), never misread.
///
/// # When Redis is down or slow
///
/// Every call is bounded by the [timeout](RedisStoreBuilder::timeout) and fails with an
/// [`Error`] of kind [`StoreUnavailable`](ErrorKind::StoreUnavailable), primitive
/// [`Idempotency`](Primitive::Idempotency), this store's name, and the Redis error (or the
/// timeout) as [`source`](std::error::Error::source); it never panics. The connection is
/// made lazily and remade by the next call after a failure, so the store recovers by itself
/// when Redis is back.
///
/// A call that timed out may still be applied by Redis. For a claim that matters: its
/// lease would lock the key for the whole lock TTL, and every retry would get 409. So
/// after a claim times out, the store gives the lease up, best effort: one more script,
/// bounded by the same timeout (so a claim takes at most twice the timeout), that deletes
/// the key only if it still holds this very lease (sent on the same connection, it runs
/// after the claim if the claim arrives at all). Then the claim fails with:
///
/// - [`IdempotencyConflict`](ErrorKind::IdempotencyConflict) when Redis answered that:
///   the key is free again (or completed), `retry_after` one second; or another request
///   holds it, `retry_after` the time left on that request's lease (an HTTP layer answers
///   409 with that `Retry-After`);
/// - `StoreUnavailable` when it did not answer that either: the lease may hold the key
///   for the lock TTL, which is the `retry_after` given.
///
/// # Redis Cluster
///
/// [`RedisStore::cluster_builder`] takes the URLs of some of a cluster's nodes instead of
/// one URL; everything else is the same:
///
/// ```no_run
/// use std::time::Duration;
///
/// use resilience_core::idempotency::RedisStore;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let store = RedisStore::cluster_builder([
///     "redis://10.0.0.1:6379",
///     "redis://10.0.0.2:6379",
///     "redis://10.0.0.3:6379",
/// ])
/// .prefix("checkout:idempotency:")
/// .timeout(Duration::from_millis(200))
/// .build()?;
/// store.ping().await?; // every master answers
/// # Ok(()) }
/// ```
///
/// Every call is one script on one key, so on one slot, as a cluster requires; keys are
/// not hash-tagged together, so a store's keys spread over every master. (A prefix with a
/// hash tag of its own would put them all on one slot: the builder refuses it on a
/// cluster. A client's key that holds braces is placed by them, which is harmless: it is
/// still one key.)
///
/// **When a master fails**, the cluster promotes its replica once the other masters agree
/// it is down (after `cluster-node-timeout`, 15 s by default, plus an election). Meanwhile:
///
/// - Calls on the dead master's slots fail with `StoreUnavailable` within the timeout (a
///   claim within twice the timeout, as above); they never hang. Calls on the other
///   masters' slots go on as before.
/// - A call is never applied twice: the cluster client resends a request whose connection
///   dropped, and the scripts answer a resent call as they did the first time (a claim
///   that finds its own lease is claimed, a complete that finds its own record is done).
/// - Once the replica is promoted, calls succeed again on the same store, without a
///   restart: a call that failed because a node was gone makes the store find the
///   topology afresh from the seed nodes, in the background, while other calls go on.
///   In the failover test (loopback, `cluster-node-timeout` 1 s, timeout 500 ms), calls
///   on the dead master's slots failed from 13 ms to 1 s after the kill (at once when they
///   met the dropped connection, else at the timeout: a claim's plus its release's) and
///   succeeded again 2.0–3.2 s after it.
/// - A request whose operation ran but whose record could not be stored (the master died
///   in between) keeps its lease on the promoted replica: duplicates get
///   [`Claim::InFlight`] (409 over HTTP) until the lock TTL ends, as after a crash of the
///   instance running it, and only then may run it again. Keep the lock TTL longer than a
///   failover takes.
/// - Redis replicates asynchronously, and a cluster offers nothing stronger: a claim that
///   the master acknowledged but died before passing on (a window of about one
///   replication round trip) is lost with it, and a duplicate arriving after the
///   promotion runs again. (`WAIT` would close that window only while every master has a
///   replica in sync, and would then fail every claim on a promoted master that has none.)
///
/// # Clone
///
/// Clones share the connection and configuration: cloning is an `Arc` increment.
#[derive(Clone)]
pub struct RedisStore {
    shared: Arc<Shared>,
}

struct Shared {
    name: Name,
    prefix: Box<[u8]>,
    redis: RedisClient,
    scripts: scripts::Scripts,
}

impl RedisStore {
    /// A builder for a store on the Redis at `url` (`redis://host:port/db`).
    pub fn builder(url: impl Into<String>) -> RedisStoreBuilder {
        RedisStoreBuilder::new(Endpoint::Node(url.into()))
    }

    /// A builder for a store on a Redis Cluster, found from `nodes`: the URLs
    /// (`redis://host:port`, or `rediss://`) of some of its nodes. One reachable node is
    /// enough to discover the others; list several so that the store can start while one
    /// is down. See [Redis Cluster](#redis-cluster) for what happens during a failover.
    pub fn cluster_builder<I, S>(nodes: I) -> RedisStoreBuilder
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        RedisStoreBuilder::new(Endpoint::cluster(nodes))
    }

    /// Whether this store is on a Redis Cluster.
    #[must_use]
    pub fn is_cluster(&self) -> bool {
        self.shared.redis.is_cluster()
    }

    /// The instance name, carried by this store's errors.
    #[must_use]
    pub fn name(&self) -> &Name {
        &self.shared.name
    }

    /// The prefix put before every key in Redis.
    #[must_use]
    pub fn prefix(&self) -> &[u8] {
        &self.shared.prefix
    }

    /// Checks that Redis answers (`PING`), within the timeout: for startup and readiness
    /// checks.
    ///
    /// # Errors
    ///
    /// [`StoreUnavailable`](ErrorKind::StoreUnavailable) when Redis cannot be reached.
    pub async fn ping(&self) -> Result<(), Error> {
        self.bounded("ping", async {
            let mut conn = self.connection().await?;
            redis::cmd("PING")
                .query_async::<()>(&mut conn)
                .await
                .map_err(|err| self.unavailable("ping", err))
        })
        .await
    }

    /// The key as stored in Redis: the prefix, then the key's bytes.
    fn redis_key(&self, key: &str) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.shared.prefix.len() + key.len());
        out.extend_from_slice(&self.shared.prefix);
        out.extend_from_slice(key.as_bytes());
        out
    }

    async fn connection(&self) -> Result<Connection, Error> {
        self.shared
            .redis
            .connection()
            .await
            .map_err(|err| self.unavailable("connect", err))
    }

    /// Runs one store call within the timeout.
    async fn bounded<T>(
        &self,
        op: &'static str,
        call: impl Future<Output = Result<T, Error>>,
    ) -> Result<T, Error> {
        self.shared
            .redis
            .bounded(call, |err| self.unavailable(op, err))
            .await
    }

    fn unavailable(&self, op: &'static str, source: impl Into<BoxError>) -> Error {
        Error::new(ErrorKind::StoreUnavailable)
            .with_primitive(Primitive::Idempotency)
            .with_instance(self.shared.name.clone())
            .with_detail("the idempotency store is unavailable")
            .with_field("store_call", op)
            .with_source(source)
    }

    /// Claims within the timeout; gives the lease up if the claim timed out.
    async fn claim_bounded(
        &self,
        key: &str,
        fingerprint: &Fingerprint,
        lock_ttl: Duration,
    ) -> Result<Claim, Error> {
        let token: u64 = rand::random();
        let lease = codec::encode_lease(fingerprint, token);
        let claim = self.claim_now(key, fingerprint, &lease, token, lock_ttl);
        match tokio::time::timeout(self.shared.redis.timeout(), claim).await {
            Ok(Err(err)) if redis_timed_out(&err) => Err(self.abandon(key, &lease, lock_ttl).await),
            Ok(result) => result,
            Err(_) => Err(self.abandon(key, &lease, lock_ttl).await),
        }
    }

    /// After a claim timed out: deletes the key if it holds `lease`, and says how long
    /// the key stays locked.
    async fn abandon(&self, key: &str, lease: &[u8], lock_ttl: Duration) -> Error {
        let timed_out = || {
            std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!(
                    "redis did not answer within {:?}",
                    self.shared.redis.timeout()
                ),
            )
        };
        let left = self
            .bounded("release", async {
                let mut conn = self.connection().await?;
                self.shared
                    .scripts
                    .abandon
                    .key(self.redis_key(key))
                    .arg(lease)
                    .invoke_async::<i64>(&mut conn)
                    .await
                    .map_err(|err| self.unavailable("release", err))
            })
            .await;
        match left {
            Ok(left_ms) => {
                let left = Duration::from_millis(u64::try_from(left_ms).unwrap_or(0));
                Error::new(ErrorKind::IdempotencyConflict)
                    .with_primitive(Primitive::Idempotency)
                    .with_instance(self.shared.name.clone())
                    .with_detail("the idempotency store did not answer in time; try again")
                    .with_field("store_call", "claim")
                    .with_retry_after(left.max(Duration::from_secs(1)))
                    .with_source(timed_out())
            }
            Err(_) => self
                .unavailable("claim", timed_out())
                .with_retry_after(lock_ttl),
        }
    }

    async fn claim_now(
        &self,
        key: &str,
        fingerprint: &Fingerprint,
        lease: &[u8],
        token: u64,
        lock_ttl: Duration,
    ) -> Result<Claim, Error> {
        let mut conn = self.connection().await?;
        let reply: redis::Value = self
            .shared
            .scripts
            .claim
            .key(self.redis_key(key))
            .arg(lease)
            .arg(millis(lock_ttl))
            .arg(&fingerprint.as_bytes()[..])
            .invoke_async(&mut conn)
            .await
            .map_err(|err| self.unavailable("claim", err))?;
        match reply {
            redis::Value::Int(1) => Ok(Claim::Claimed(Lease::new(key, token, *fingerprint))),
            redis::Value::Int(2) => Ok(Claim::Mismatch),
            redis::Value::Array(items) => match <[redis::Value; 2]>::try_from(items) {
                Ok([redis::Value::BulkString(value), redis::Value::Int(pttl)]) => {
                    self.existing(fingerprint, value, pttl)
                }
                Ok(other) => Err(self.unexpected("claim", &other)),
                Err(other) => Err(self.unexpected("claim", &other)),
            },
            other => Err(self.unexpected("claim", &other)),
        }
    }

    /// The answer for a key that holds a lease or record with the caller's fingerprint.
    fn existing(
        &self,
        fingerprint: &Fingerprint,
        value: Vec<u8>,
        pttl: i64,
    ) -> Result<Claim, Error> {
        let decoded =
            codec::decode(Bytes::from(value)).map_err(|err| self.unavailable("claim", err))?;
        Ok(match decoded {
            codec::Value::Lease { fingerprint: f, .. }
            | codec::Value::Record { fingerprint: f, .. }
                if f != *fingerprint =>
            {
                Claim::Mismatch
            }
            codec::Value::Lease { .. } => Claim::InFlight {
                lease_expires_in: u64::try_from(pttl).ok().map(Duration::from_millis),
            },
            codec::Value::Record { record, .. } => Claim::Completed(record),
        })
    }

    async fn complete_now(
        &self,
        lease: &Lease,
        record: &Record,
        ttl: Duration,
    ) -> Result<Commit, Error> {
        let current = codec::encode_lease(lease.fingerprint(), lease.token());
        let value = codec::encode_record(lease.fingerprint(), record)
            .map_err(|err| self.unavailable("complete", err))?;
        let mut conn = self.connection().await?;
        let done: i64 = self
            .shared
            .scripts
            .complete
            .key(self.redis_key(lease.key()))
            .arg(&current[..])
            .arg(value)
            .arg(millis(ttl))
            .invoke_async(&mut conn)
            .await
            .map_err(|err| self.unavailable("complete", err))?;
        Ok(commit(done))
    }

    async fn release_now(&self, lease: &Lease) -> Result<Commit, Error> {
        let current = codec::encode_lease(lease.fingerprint(), lease.token());
        let mut conn = self.connection().await?;
        let done: i64 = self
            .shared
            .scripts
            .release
            .key(self.redis_key(lease.key()))
            .arg(&current[..])
            .invoke_async(&mut conn)
            .await
            .map_err(|err| self.unavailable("release", err))?;
        Ok(commit(done))
    }

    fn unexpected(&self, op: &'static str, reply: &impl std::fmt::Debug) -> Error {
        self.unavailable(op, format!("unexpected reply from redis: {reply:?}"))
    }
}

/// Whether `err` is redis-rs's own response timeout (set to the same timeout as ours, so
/// it may fire first).
fn redis_timed_out(err: &Error) -> bool {
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        if cause
            .downcast_ref::<redis::RedisError>()
            .is_some_and(redis::RedisError::is_timeout)
        {
            return true;
        }
        source = cause.source();
    }
    false
}

fn commit(done: i64) -> Commit {
    if done == 1 {
        Commit::Done
    } else {
        Commit::Stale
    }
}

/// A TTL in whole milliseconds for `PX`: at least 1 (Redis refuses 0), at most
/// [`MAX_TTL_MS`].
fn millis(ttl: Duration) -> u64 {
    u64::try_from(ttl.as_millis())
        .unwrap_or(u64::MAX)
        .clamp(1, MAX_TTL_MS)
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("name", &self.shared.name)
            .field("prefix", &String::from_utf8_lossy(&self.shared.prefix))
            .field("cluster", &self.shared.redis.is_cluster())
            .field("timeout", &self.shared.redis.timeout())
            .field("connected", &self.shared.redis.is_connected())
            .finish_non_exhaustive()
    }
}

impl IdempotencyStore for RedisStore {
    fn claim<'a>(
        &'a self,
        key: &'a str,
        fingerprint: &'a Fingerprint,
        lock_ttl: Duration,
    ) -> BoxFuture<'a, Result<Claim, Error>> {
        Box::pin(self.claim_bounded(key, fingerprint, lock_ttl))
    }

    fn complete(
        &self,
        lease: Lease,
        record: Record,
        ttl: Duration,
    ) -> BoxFuture<'_, Result<Commit, Error>> {
        Box::pin(async move {
            self.bounded("complete", self.complete_now(&lease, &record, ttl))
                .await
        })
    }

    fn release(&self, lease: Lease) -> BoxFuture<'_, Result<Commit, Error>> {
        Box::pin(async move { self.bounded("release", self.release_now(&lease)).await })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A Redis Cluster client resends a request whose connection dropped, and the first
    /// copy may have been applied: the scripts must answer the same the second time.
    #[cfg(not(loom))]
    #[tokio::test]
    async fn a_resent_claim_or_complete_gives_the_same_answer() {
        let test = "a_resent_claim_or_complete_gives_the_same_answer";
        let Some(url) = resilience_test_support::redis::redis_url_or_skip(test) else {
            return;
        };
        let store = RedisStore::builder(url)
            .prefix(format!("resilience-test:{:016x}:", rand::random::<u64>()))
            .timeout(Duration::from_secs(5))
            .build()
            .unwrap();
        let fingerprint = Fingerprint::from_bytes([1; 32]);
        let lease = codec::encode_lease(&fingerprint, 7);
        let ttl = Duration::from_secs(60);
        for _ in 0..2 {
            let claim = store.claim_now("k", &fingerprint, &lease, 7, ttl).await;
            assert!(matches!(claim, Ok(Claim::Claimed(_))), "{claim:?}");
        }
        // Another claim of the key (another token) is a duplicate in flight.
        let other = codec::encode_lease(&fingerprint, 8);
        let claim = store.claim_now("k", &fingerprint, &other, 8, ttl).await;
        assert!(matches!(claim, Ok(Claim::InFlight { .. })), "{claim:?}");

        let held = Lease::new("k", 7, fingerprint);
        let record = Record::new(201, vec![], Bytes::from_static(b"charged"));
        for _ in 0..2 {
            let commit = store.complete_now(&held, &record, ttl).await.unwrap();
            assert_eq!(commit, Commit::Done);
        }
        // A stale lease with another record is still refused.
        let stale = Lease::new("k", 8, fingerprint);
        let late = Record::new(201, vec![], Bytes::from_static(b"late"));
        assert_eq!(
            store.complete_now(&stale, &late, ttl).await.unwrap(),
            Commit::Stale
        );
        let claim = store.claim_now("k", &fingerprint, &other, 8, ttl).await;
        assert_eq!(claim.unwrap(), Claim::Completed(record));
    }

    #[test]
    fn ttls_are_whole_milliseconds_within_what_redis_accepts() {
        assert_eq!(millis(Duration::ZERO), 1);
        assert_eq!(millis(Duration::from_micros(1500)), 1);
        assert_eq!(millis(Duration::from_secs(2)), 2000);
        assert_eq!(millis(Duration::MAX), MAX_TTL_MS);
    }
}
