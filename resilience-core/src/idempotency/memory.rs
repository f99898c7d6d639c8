//! The in-memory store.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::time::Instant;

use super::store::{BoxFuture, Claim, Commit, Fingerprint, IdempotencyStore, Lease, Record};
use crate::Error;

/// An idempotency store in this process's memory: the default, for one instance.
///
/// Times come from tokio's clock, so expiry can be tested under `tokio::time::pause()`.
#[derive(Debug, Default)]
pub struct MemoryStore {
    entries: Mutex<HashMap<Box<str>, Entry>>,
    next_token: AtomicU64,
}

#[derive(Debug)]
struct Entry {
    fingerprint: Fingerprint,
    expires_at: Instant,
    state: State,
}

#[derive(Debug)]
enum State {
    InFlight { token: u64 },
    Completed(Record),
}

impl MemoryStore {
    /// An empty store.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    fn claim_now(&self, key: &str, fingerprint: &Fingerprint, lock_ttl: Duration) -> Claim {
        let now = Instant::now();
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(entry) = entries.get(key).filter(|e| e.expires_at > now) {
            if entry.fingerprint != *fingerprint {
                return Claim::Mismatch;
            }
            return match &entry.state {
                State::InFlight { .. } => Claim::InFlight {
                    lease_expires_in: Some(entry.expires_at - now),
                },
                State::Completed(record) => Claim::Completed(record.clone()),
            };
        }
        let token = self.next_token.fetch_add(1, Ordering::Relaxed) + 1;
        entries.insert(
            key.into(),
            Entry {
                fingerprint: *fingerprint,
                expires_at: now + lock_ttl,
                state: State::InFlight { token },
            },
        );
        Claim::Claimed(Lease::new(key, token, *fingerprint))
    }

    fn finish(&self, lease: &Lease, record: Option<(Record, Duration)>) -> Commit {
        let now = Instant::now();
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let current = entries.get(lease.key()).is_some_and(|entry| {
            entry.expires_at > now
                && matches!(entry.state, State::InFlight { token } if token == lease.token())
        });
        if !current {
            return Commit::Stale;
        }
        match record {
            Some((record, ttl)) => {
                let entry = entries.get_mut(lease.key()).expect("checked above");
                entry.expires_at = now + ttl;
                entry.state = State::Completed(record);
            }
            None => {
                entries.remove(lease.key());
            }
        }
        Commit::Done
    }
}

impl IdempotencyStore for MemoryStore {
    fn claim<'a>(
        &'a self,
        key: &'a str,
        fingerprint: &'a Fingerprint,
        lock_ttl: Duration,
    ) -> BoxFuture<'a, Result<Claim, Error>> {
        Box::pin(async move { Ok(self.claim_now(key, fingerprint, lock_ttl)) })
    }

    fn complete(
        &self,
        lease: Lease,
        record: Record,
        ttl: Duration,
    ) -> BoxFuture<'_, Result<Commit, Error>> {
        Box::pin(async move { Ok(self.finish(&lease, Some((record, ttl)))) })
    }

    fn release(&self, lease: Lease) -> BoxFuture<'_, Result<Commit, Error>> {
        Box::pin(async move { Ok(self.finish(&lease, None)) })
    }
}
