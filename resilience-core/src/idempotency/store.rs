//! The store trait and the values it exchanges.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use crate::Error;

/// A boxed future, as returned by [`IdempotencyStore`] methods (which keeps the trait object
/// safe, so `Arc<dyn IdempotencyStore>` can pick a store at run time).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A digest of the request a key was first used with (for HTTP: method, path, body and a
/// scope such as the caller's identity). The same key with a different fingerprint is a
/// [`Claim::Mismatch`].
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint([u8; 32]);

impl Fingerprint {
    /// A fingerprint from a 32-byte digest (e.g. SHA-256).
    #[must_use]
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The digest bytes.
    #[must_use]
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Fingerprint(")?;
        for byte in &self.0[..8] {
            write!(f, "{byte:02x}")?;
        }
        f.write_str("…)")
    }
}

/// A stored result: status, selected headers and the body bytes.
///
/// Cloning is cheap: the body is reference-counted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    status: u16,
    headers: Arc<[(Box<str>, Bytes)]>,
    body: Bytes,
}

impl Record {
    /// A record of `status`, `headers` (name, value) and `body`.
    pub fn new(status: u16, headers: Vec<(Box<str>, Bytes)>, body: Bytes) -> Self {
        Self {
            status,
            headers: headers.into(),
            body,
        }
    }

    /// The stored status code.
    #[must_use]
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The stored headers, as (name, value) pairs.
    #[must_use]
    pub fn headers(&self) -> &[(Box<str>, Bytes)] {
        &self.headers
    }

    /// The stored body.
    #[must_use]
    pub fn body(&self) -> &Bytes {
        &self.body
    }

    /// Bytes held by this record (body, header names and values), for capacity accounting.
    #[must_use]
    pub fn size(&self) -> usize {
        self.body.len()
            + self
                .headers
                .iter()
                .map(|(name, value)| name.len() + value.len())
                .sum::<usize>()
    }
}

/// The right to run the operation for a key, granted by [`Claim::Claimed`].
///
/// Hand it back with [`IdempotencyStore::complete`] or [`IdempotencyStore::release`]. A
/// lease that is simply dropped expires after its lock TTL, after which the key can be
/// claimed again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    key: Box<str>,
    token: u64,
    fingerprint: Fingerprint,
}

impl Lease {
    /// A lease on `key` with fencing `token`. For store implementations: tokens must differ
    /// between successive claims of one key, so that a stale lease can be told apart.
    pub fn new(key: impl Into<Box<str>>, token: u64, fingerprint: Fingerprint) -> Self {
        Self {
            key: key.into(),
            token,
            fingerprint,
        }
    }

    /// The claimed key.
    #[must_use]
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The fencing token of this claim.
    #[must_use]
    pub fn token(&self) -> u64 {
        self.token
    }

    /// The fingerprint the key was claimed with.
    #[must_use]
    pub fn fingerprint(&self) -> &Fingerprint {
        &self.fingerprint
    }
}

/// The answer to [`IdempotencyStore::claim`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Claim {
    /// The key was free (or its previous lease expired): run the operation, then complete
    /// or release the lease.
    Claimed(Lease),
    /// Another claim of the key, with the same fingerprint, has not finished yet.
    InFlight {
        /// How long until that claim's lease expires, when the store knows.
        lease_expires_in: Option<Duration>,
    },
    /// The key has a stored result for the same fingerprint: replay it.
    Completed(Record),
    /// The key is in use (in flight or completed) with a different fingerprint.
    Mismatch,
    /// The key has completed, but its result was not kept (it did not fit the store, see
    /// [`Commit::Unrecorded`]): do not run the operation again, and refuse the duplicate
    /// (there is nothing to replay).
    Unrecorded,
}

/// What [`IdempotencyStore::complete`] or [`IdempotencyStore::release`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub enum Commit {
    /// The lease was current: the record was stored, or the key released.
    Done,
    /// The lease was no longer current (it expired and the key expired or was claimed
    /// again): nothing was written.
    Stale,
    /// The lease was current, but the record did not fit the store: the key is kept as
    /// completed without it, for the record's TTL, and duplicates get
    /// [`Claim::Unrecorded`] rather than running the operation a second time.
    Unrecorded,
}

/// A store of idempotency keys with one atomic claim.
///
/// Implementations must make [`claim`](IdempotencyStore::claim) atomic: of any number of
/// concurrent claims of one free key, exactly one returns [`Claim::Claimed`]. They fail with
/// an [`Error`] of kind [`StoreUnavailable`](crate::ErrorKind::StoreUnavailable) when the
/// backing store cannot be reached.
pub trait IdempotencyStore: Send + Sync {
    /// Claims `key` for a request with `fingerprint`, holding it for at most `lock_ttl`.
    fn claim<'a>(
        &'a self,
        key: &'a str,
        fingerprint: &'a Fingerprint,
        lock_ttl: Duration,
    ) -> BoxFuture<'a, Result<Claim, Error>>;

    /// Stores `record` for the lease's key, kept for `ttl`, if the lease is still current.
    ///
    /// A store that cannot hold the record (it is full) should keep the key completed
    /// without it and answer [`Commit::Unrecorded`], rather than fail and leave the key to
    /// expire: the operation has run, and a duplicate must not run it again.
    fn complete(
        &self,
        lease: Lease,
        record: Record,
        ttl: Duration,
    ) -> BoxFuture<'_, Result<Commit, Error>>;

    /// Frees the lease's key without storing anything (e.g. the operation failed in a way
    /// that a retry may fix), if the lease is still current.
    fn release(&self, lease: Lease) -> BoxFuture<'_, Result<Commit, Error>>;
}

impl<S: IdempotencyStore + ?Sized> IdempotencyStore for Arc<S> {
    fn claim<'a>(
        &'a self,
        key: &'a str,
        fingerprint: &'a Fingerprint,
        lock_ttl: Duration,
    ) -> BoxFuture<'a, Result<Claim, Error>> {
        (**self).claim(key, fingerprint, lock_ttl)
    }

    fn complete(
        &self,
        lease: Lease,
        record: Record,
        ttl: Duration,
    ) -> BoxFuture<'_, Result<Commit, Error>> {
        (**self).complete(lease, record, ttl)
    }

    fn release(&self, lease: Lease) -> BoxFuture<'_, Result<Commit, Error>> {
        (**self).release(lease)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_is_object_safe() {
        fn accepts(_: Option<Arc<dyn IdempotencyStore>>) {}
        accepts(None);
    }
}
