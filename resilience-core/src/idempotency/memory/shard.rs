//! One shard of the memory store: a map behind its own lock, with its share of the capacity.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::time::Duration;

use tokio::time::Instant;

use super::super::store::{Claim, Commit, Fingerprint, Lease, Record};

/// Why a shard refused to take an entry or a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Full {
    /// The soonest that a live entry of the shard expires, if it holds any.
    pub(super) next_expiry: Option<Duration>,
    /// Which limit was hit.
    pub(super) limit: Limit,
}

/// The capacity limit that was hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Limit {
    Entries,
    Bytes,
}

/// The fewest inserts between two sweeps.
const MIN_SWEEP_AFTER: usize = 64;

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

impl Entry {
    /// Bytes this entry counts against the byte capacity: its key and its record.
    fn bytes(&self, key: &str) -> usize {
        key.len()
            + match &self.state {
                State::InFlight { .. } => 0,
                State::Completed(record) => record.size(),
            }
    }
}

/// A map of keys with its own limits. Every method takes `now` from the caller, so one
/// clock read serves a whole operation.
#[derive(Debug)]
pub(super) struct Shard<H> {
    map: HashMap<Box<str>, Entry, H>,
    /// Bytes counted by the entries in `map`, expired or not.
    bytes: usize,
    max_entries: usize,
    max_bytes: usize,
    /// Inserts since the last sweep.
    inserts_since_sweep: usize,
    /// A sweep runs once `inserts_since_sweep` reaches this: the entries left by the last
    /// sweep (at least 64). So a sweep's cost is paid by as many inserts (O(1) per insert,
    /// amortized), and entries that expire unseen are removed before the map doubles.
    sweep_after: usize,
    /// The last fencing token handed out. A key always lives in the same shard, so a
    /// per-shard counter is enough to tell successive claims of one key apart.
    last_token: u64,
}

impl<H: BuildHasher> Shard<H> {
    pub(super) fn new(max_entries: usize, max_bytes: usize, hasher: H) -> Self {
        Self {
            map: HashMap::with_hasher(hasher),
            bytes: 0,
            max_entries,
            max_bytes,
            inserts_since_sweep: 0,
            sweep_after: MIN_SWEEP_AFTER,
            last_token: 0,
        }
    }

    /// The atomic claim: see [`IdempotencyStore::claim`](super::super::IdempotencyStore::claim).
    pub(super) fn claim(
        &mut self,
        key: &str,
        fingerprint: &Fingerprint,
        lock_ttl: Duration,
        now: Instant,
    ) -> Result<Claim, Full> {
        let expires_at = expiry(now, lock_ttl);
        match self.map.get_mut(key) {
            Some(entry) if entry.expires_at > now => {
                if entry.fingerprint != *fingerprint {
                    return Ok(Claim::Mismatch);
                }
                return Ok(match &entry.state {
                    State::InFlight { .. } => Claim::InFlight {
                        lease_expires_in: Some(entry.expires_at - now),
                    },
                    State::Completed(record) => Claim::Completed(record.clone()),
                });
            }
            Some(expired) => {
                // Reuse the slot of an expired entry: the count stays, the bytes shrink.
                self.last_token += 1;
                let token = self.last_token;
                self.bytes -= expired.bytes(key) - key.len();
                *expired = Entry {
                    fingerprint: *fingerprint,
                    expires_at,
                    state: State::InFlight { token },
                };
                return Ok(Claim::Claimed(Lease::new(key, token, *fingerprint)));
            }
            None => {}
        }
        self.make_room(1, key.len(), now)?;
        let token = self.next_token();
        self.map.insert(
            key.into(),
            Entry {
                fingerprint: *fingerprint,
                expires_at,
                state: State::InFlight { token },
            },
        );
        self.bytes += key.len();
        self.inserts_since_sweep += 1;
        Ok(Claim::Claimed(Lease::new(key, token, *fingerprint)))
    }

    /// Completes (`record` is `Some`) or releases the lease if it is still current.
    pub(super) fn finish(
        &mut self,
        lease: &Lease,
        record: Option<(Record, Duration)>,
        now: Instant,
    ) -> Result<Commit, Full> {
        let key = lease.key();
        let Some(entry) = self.map.get(key) else {
            return Ok(Commit::Stale);
        };
        if entry.expires_at <= now {
            // Expired: whatever it was, it is gone; drop it now rather than at a sweep.
            self.remove(key);
            return Ok(Commit::Stale);
        }
        if !matches!(entry.state, State::InFlight { token } if token == lease.token()) {
            return Ok(Commit::Stale);
        }
        let Some((record, ttl)) = record else {
            self.remove(key);
            return Ok(Commit::Done);
        };
        self.make_room(0, record.size(), now)?;
        // `make_room` only removes expired entries, and this one is live.
        if let Some(entry) = self.map.get_mut(key) {
            entry.expires_at = expiry(now, ttl);
            self.bytes += record.size();
            entry.state = State::Completed(record);
        }
        Ok(Commit::Done)
    }

    /// Removes every expired entry; returns how many.
    pub(super) fn purge_expired(&mut self, now: Instant) -> usize {
        let before = self.map.len();
        let mut freed = 0;
        self.map.retain(|key, entry| {
            let live = entry.expires_at > now;
            if !live {
                freed += entry.bytes(key);
            }
            live
        });
        self.bytes -= freed;
        self.inserts_since_sweep = 0;
        self.sweep_after = self.map.len().max(MIN_SWEEP_AFTER);
        before - self.map.len()
    }

    /// Entries held, including expired ones not yet removed.
    pub(super) fn len(&self) -> usize {
        self.map.len()
    }

    /// Bytes counted, including those of expired entries not yet removed.
    pub(super) fn bytes(&self) -> usize {
        self.bytes
    }

    fn next_token(&mut self) -> u64 {
        self.last_token += 1;
        self.last_token
    }

    fn remove(&mut self, key: &str) {
        if let Some(entry) = self.map.remove(key) {
            self.bytes -= entry.bytes(key);
        }
    }

    /// Makes room for `entries` more entries and `bytes` more bytes, sweeping expired
    /// entries when the shard is full or a sweep is due; never removes a live entry.
    fn make_room(&mut self, entries: usize, bytes: usize, now: Instant) -> Result<(), Full> {
        let fits = |shard: &Self| -> Option<Limit> {
            if shard.map.len() + entries > shard.max_entries {
                Some(Limit::Entries)
            } else if shard.bytes + bytes > shard.max_bytes {
                Some(Limit::Bytes)
            } else {
                None
            }
        };
        if fits(self).is_none() && self.inserts_since_sweep < self.sweep_after {
            return Ok(());
        }
        self.purge_expired(now);
        match fits(self) {
            None => Ok(()),
            Some(limit) => Err(Full {
                next_expiry: self.map.values().map(|e| e.expires_at - now).min(),
                limit,
            }),
        }
    }
}

/// `now + ttl`, saturating far in the future instead of overflowing.
fn expiry(now: Instant, ttl: Duration) -> Instant {
    const FAR: Duration = Duration::from_secs(100 * 365 * 24 * 60 * 60);
    now.checked_add(ttl.min(FAR))
        .or_else(|| now.checked_add(Duration::from_secs(365 * 24 * 60 * 60)))
        .unwrap_or(now)
}
