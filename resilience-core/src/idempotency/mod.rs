//! Idempotency: run an operation once per key, and answer duplicates with the stored result.
//!
//! ```
//! use std::time::Duration;
//!
//! use bytes::Bytes;
//! use resilience_core::idempotency::{Claim, Fingerprint, IdempotencyStore, MemoryStore, Record};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), resilience_core::Error> {
//! let store = MemoryStore::new();
//! let fingerprint = Fingerprint::from_bytes([7; 32]);
//! let lock_ttl = Duration::from_secs(30);
//!
//! // The first request with a key claims it, runs the operation, and stores its result.
//! let Claim::Claimed(lease) = store.claim("key-1", &fingerprint, lock_ttl).await? else {
//!     unreachable!("a fresh key is always claimable");
//! };
//! let record = Record::new(201, Vec::new(), Bytes::from_static(b"charged"));
//! store.complete(lease, record, Duration::from_secs(86_400)).await?;
//!
//! // A duplicate finds the stored result instead of running the operation again.
//! match store.claim("key-1", &fingerprint, lock_ttl).await? {
//!     Claim::Completed(record) => assert_eq!(record.body(), b"charged".as_slice()),
//!     other => panic!("expected a replay, got {other:?}"),
//! }
//! # Ok(()) }
//! ```
//!
//! # Why one atomic claim
//!
//! "Look the key up, run the handler if it is absent, store the result" lets two duplicates
//! that arrive together both see the key absent and both run. A store here has one atomic
//! step, [`IdempotencyStore::claim`], that decides between running ([`Claim::Claimed`]),
//! waiting ([`Claim::InFlight`]), replaying ([`Claim::Completed`]) and refusing
//! ([`Claim::Mismatch`]); of N concurrent claims of one key, exactly one is `Claimed`.
//!
//! A claim holds a [`Lease`] that expires after its lock TTL, so a worker that crashed
//! cannot hold a key forever. Each lease carries a fencing token; when a lease has expired
//! and the key was claimed again, the old holder's [`complete`](IdempotencyStore::complete)
//! or [`release`](IdempotencyStore::release) is refused ([`Commit::Stale`]) instead of
//! overwriting the newer claim.
//!
//! # Stores
//!
//! - [`MemoryStore`]: the default, for one instance; sharded, bounded in entries and bytes
//!   (optionally per client); when full it evicts expired entries and old records, never a
//!   live lease, and otherwise refuses new claims at once.
//! - `RedisStore` (feature `redis`): shared by every instance of a service, on one Redis or
//!   a Redis Cluster; one Lua script (one round trip) per call, TTLs kept by Redis, every
//!   call bounded by a timeout. When a cluster's master fails, calls on its slots fail
//!   with `StoreUnavailable` until a replica is promoted, then succeed again by themselves
//!   (see its docs for what a failover can and cannot lose).
//!
//! Both fail with [`ErrorKind::StoreUnavailable`](crate::ErrorKind::StoreUnavailable)
//! (primitive [`Idempotency`](crate::Primitive::Idempotency)) when they cannot answer; an
//! HTTP layer turns that into 503 (fail closed) or, if configured, runs the request
//! unprotected (fail open).

mod memory;
#[cfg(feature = "redis")]
mod redis;
mod store;

pub use memory::{MemoryStore, MemoryStoreBuilder};
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub use redis::{RedisStore, RedisStoreBuilder};
pub use store::{BoxFuture, Claim, Commit, Fingerprint, IdempotencyStore, Lease, Record};
