//! One shard of the memory store: a map behind its own lock, and two queues that find
//! what may go when the store is full without scanning the map.

use std::collections::{HashMap, VecDeque};
use std::hash::BuildHasher;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::super::store::{Claim, Commit, Fingerprint, Lease, Record};
use super::limits::{Limits, cost};

/// Why a shard refused to take an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Full {
    /// Which limit was hit.
    pub(super) limit: Limit,
    /// The soonest that one of the entries looked at can go (it expires, or it is a
    /// record that becomes old enough to evict), if any was looked at.
    pub(super) retry_after: Option<Duration>,
}

/// The capacity limit that was hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Limit {
    Entries,
    Bytes,
    Scope,
}

/// Queue items looked at after each insert, to drop expired entries nobody asks for.
const TIDY_STEPS: usize = 2;
/// Queue items a full shard looks at before it refuses: a refusal costs O(1).
const FULL_STEPS: usize = 8;

#[derive(Debug)]
pub(super) struct Entry {
    fingerprint: Fingerprint,
    expires_at: Instant,
    /// When the entry entered its state (for a completed one, when it completed).
    since: Instant,
    /// New with every state change; a queue item is current only with the same stamp.
    stamp: u64,
    /// What the entry is counted for against `max_bytes`.
    bytes: usize,
    state: State,
}

#[derive(Debug)]
enum State {
    InFlight {
        token: u64,
    },
    Completed(Record),
    /// Completed, but the record did not fit: duplicates are refused, never run.
    Unrecorded,
}

/// A queue item: a key and the stamp of the state it was queued in.
type Item = (Arc<str>, u64);

/// What to do with the item at the front of a queue.
enum Front {
    /// The queue is empty.
    Empty,
    /// The entry left that state: drop the item.
    Stale,
    /// The entry can go now.
    Remove,
    /// The entry stays at least this long.
    Live(Duration),
}

/// A map of keys with its share of the entry limit. Every method takes `now` from the
/// caller, so one clock read serves a whole operation.
#[derive(Debug)]
pub(super) struct Shard<H> {
    map: HashMap<Arc<str>, Entry, H>,
    /// In-flight entries, in claim order but rotated: a live lease met at the front moves
    /// to the back, so expired ones behind it come forward.
    leases: VecDeque<Item>,
    /// Completed entries in completion order: the oldest record is at the front.
    records: VecDeque<Item>,
    max_entries: usize,
    /// The last stamp handed out; in-flight stamps are the fencing tokens. A key always
    /// lives in the same shard, so a per-shard counter tells successive claims apart.
    last_stamp: u64,
}

impl<H: BuildHasher> Shard<H> {
    pub(super) fn new(max_entries: usize, hasher: H) -> Self {
        Self {
            map: HashMap::with_hasher(hasher),
            leases: VecDeque::new(),
            records: VecDeque::new(),
            max_entries,
            last_stamp: 0,
        }
    }

    /// The atomic claim: see [`IdempotencyStore::claim`](super::super::IdempotencyStore::claim).
    pub(super) fn claim(
        &mut self,
        key: &str,
        fingerprint: &Fingerprint,
        lock_ttl: Duration,
        now: Instant,
        limits: &Limits,
    ) -> Result<Claim, Full> {
        let expires_at = expiry(now, lock_ttl);
        let shared_key = match self.map.get_key_value(key) {
            Some((_, entry)) if entry.expires_at > now => {
                if entry.fingerprint != *fingerprint {
                    return Ok(Claim::Mismatch);
                }
                return Ok(match &entry.state {
                    State::InFlight { .. } => Claim::InFlight {
                        lease_expires_in: Some(entry.expires_at - now),
                    },
                    State::Completed(record) => Claim::Completed(record.clone()),
                    State::Unrecorded => Claim::Unrecorded,
                });
            }
            // An expired entry of this key: reused in place (the scope's count stays).
            Some((shared_key, _)) => Some(Arc::clone(shared_key)),
            None => None,
        };
        let bytes = cost(key, None);
        let stamp = self.next_stamp();
        let shared_key = match shared_key {
            Some(shared_key) => {
                if let Some(entry) = self.map.get_mut(key) {
                    // An in-flight entry costs the least, so this never needs room.
                    limits.budget.give_back(entry.bytes.saturating_sub(bytes));
                    *entry = in_flight(*fingerprint, expires_at, now, stamp, bytes);
                }
                shared_key
            }
            None => {
                if let Some(quota) = &limits.quota
                    && !quota.try_acquire(key)
                {
                    // Expired entries count until removed: remove some, then ask again.
                    self.tidy(now, limits);
                    if !quota.try_acquire(key) {
                        return Err(Full {
                            limit: Limit::Scope,
                            retry_after: None,
                        });
                    }
                }
                if let Err(full) = self.make_room(1, bytes, now, limits) {
                    if let Some(quota) = &limits.quota {
                        quota.release(key);
                    }
                    return Err(full);
                }
                let shared_key: Arc<str> = key.into();
                self.map.insert(
                    Arc::clone(&shared_key),
                    in_flight(*fingerprint, expires_at, now, stamp, bytes),
                );
                shared_key
            }
        };
        self.leases.push_back((shared_key, stamp));
        self.tidy(now, limits);
        Ok(Claim::Claimed(Lease::new(key, stamp, *fingerprint)))
    }

    /// Completes (`record` is `Some`) or releases the lease if it is still current.
    ///
    /// A record that cannot be made room for leaves the key completed without it
    /// ([`Commit::Unrecorded`]): the operation has run, and must not run again.
    pub(super) fn finish(
        &mut self,
        lease: &Lease,
        record: Option<(Record, Duration)>,
        now: Instant,
        limits: &Limits,
    ) -> Commit {
        let key = lease.key();
        let Some(entry) = self.map.get(key) else {
            return Commit::Stale;
        };
        if entry.expires_at <= now {
            // Expired: whatever it was, it is gone; drop it now rather than later.
            self.remove(key, limits);
            return Commit::Stale;
        }
        if !matches!(entry.state, State::InFlight { token } if token == lease.token()) {
            return Commit::Stale;
        }
        let Some((record, ttl)) = record else {
            self.remove(key, limits);
            return Commit::Done;
        };
        let held = entry.bytes;
        let wanted = cost(key, Some(&record));
        let extra = wanted.saturating_sub(held);
        // `make_room` removes expired leases and old records, never this live lease.
        let fits = extra <= limits.budget.max() && self.make_room(0, extra, now, limits).is_ok();
        let stamp = self.next_stamp();
        let Some(shared_key) = self.map.get_key_value(key).map(|(k, _)| Arc::clone(k)) else {
            return Commit::Stale;
        };
        let commit = match self.map.get_mut(key) {
            Some(entry) => {
                entry.expires_at = expiry(now, ttl);
                entry.since = now;
                entry.stamp = stamp;
                if fits {
                    entry.bytes = wanted;
                    entry.state = State::Completed(record);
                    Commit::Done
                } else {
                    entry.state = State::Unrecorded;
                    Commit::Unrecorded
                }
            }
            None => return Commit::Stale,
        };
        self.records.push_back((shared_key, stamp));
        self.tidy(now, limits);
        commit
    }

    /// Removes every expired entry; returns how many.
    pub(super) fn purge_expired(&mut self, now: Instant, limits: &Limits) -> usize {
        let before = self.map.len();
        self.map.retain(|key, entry| {
            let live = entry.expires_at > now;
            if !live {
                limits.budget.give_back(entry.bytes);
                if let Some(quota) = &limits.quota {
                    quota.release(key);
                }
            }
            live
        });
        let map = &self.map;
        let current = |(key, stamp): &Item| map.get(&**key).is_some_and(|e| e.stamp == *stamp);
        self.leases.retain(current);
        self.records.retain(current);
        before - self.map.len()
    }

    /// Frees what it can, as a full shard does, until `bytes` more fit the budget, for
    /// another shard that needs them; `false` if they still do not fit.
    pub(super) fn free_bytes(&mut self, bytes: usize, now: Instant, limits: &Limits) -> bool {
        let freed = self.make_room(0, bytes, now, limits).is_ok();
        if freed {
            limits.budget.give_back(bytes);
        }
        freed
    }

    /// Entries held, including expired ones not yet removed.
    /// A new bound on this shard's entries: entries over it stay until the next claims
    /// make room, as when the shard is full.
    pub(super) fn set_max_entries(&mut self, max_entries: usize) {
        self.max_entries = max_entries;
    }

    pub(super) fn len(&self) -> usize {
        self.map.len()
    }

    fn next_stamp(&mut self) -> u64 {
        self.last_stamp += 1;
        self.last_stamp
    }

    fn remove(&mut self, key: &str, limits: &Limits) {
        if let Some(entry) = self.map.remove(key) {
            limits.budget.give_back(entry.bytes);
            if let Some(quota) = &limits.quota {
                quota.release(key);
            }
        }
    }

    /// Makes room for `entries` more entries and `bytes` more bytes (reserved from the
    /// budget on success). When full it removes expired leases from the front of their
    /// queue, looks at the oldest [`FULL_STEPS`] records (removing the expired ones and
    /// evicting those past `min_record_age`, oldest first) and moves up to [`FULL_STEPS`]
    /// live leases along to reach expired ones behind them; it never removes a live lease
    /// or a younger record. So a refusal costs O(1) (amortized: each stale queue item is
    /// dropped once), with no scan of the shard.
    fn make_room(
        &mut self,
        entries: usize,
        bytes: usize,
        now: Instant,
        limits: &Limits,
    ) -> Result<(), Full> {
        let mut retry_after: Option<Duration> = None;
        let mut soonest = |d: Duration| {
            retry_after = Some(retry_after.map_or(d, |r: Duration| r.min(d)));
        };
        let (mut looked_at, mut moved) = (0, 0);
        loop {
            let limit = if self.map.len() + entries > self.max_entries {
                Limit::Entries
            } else if limits.budget.try_reserve(bytes) {
                return Ok(());
            } else {
                Limit::Bytes
            };
            match self.front(true, now, Duration::MAX) {
                Front::Stale => {
                    self.pop(true, false, limits);
                    continue;
                }
                Front::Remove => {
                    self.pop(true, true, limits);
                    continue;
                }
                _ => {}
            }
            if looked_at < FULL_STEPS.min(self.records.len()) {
                let (key, stamp) = &self.records[looked_at];
                looked_at += 1;
                let goes_in =
                    self.map.get(&**key).filter(|e| e.stamp == *stamp).map(|e| {
                        goes_at(e, limits.min_record_age()).saturating_duration_since(now)
                    });
                match goes_in {
                    // Removed from the map only; its queue item is dropped when it comes
                    // to the front.
                    Some(left) if left.is_zero() => {
                        let key = Arc::clone(key);
                        self.remove(&key, limits);
                    }
                    Some(left) => soonest(left),
                    None => {}
                }
                continue;
            }
            if moved < FULL_STEPS && self.leases.len() > 1 {
                moved += 1;
                if let Front::Live(left) = self.front(true, now, Duration::MAX) {
                    soonest(left);
                }
                self.leases.rotate_left(1);
                continue;
            }
            if let Front::Live(left) = self.front(true, now, Duration::MAX) {
                soonest(left);
            }
            return Err(Full { limit, retry_after });
        }
    }

    /// After an insert: drops stale items and expired entries at the queues' fronts and
    /// moves live leases along, a few items at a time, so that entries that expire unseen
    /// are removed without a sweep of the map and the queues stay within twice the map.
    fn tidy(&mut self, now: Instant, limits: &Limits) {
        for _ in 0..TIDY_STEPS {
            match self.front(true, now, Duration::MAX) {
                Front::Stale => self.pop(true, false, limits),
                Front::Remove => self.pop(true, true, limits),
                Front::Live(_) if self.leases.len() > 1 => self.leases.rotate_left(1),
                _ => {}
            }
            match self.front(false, now, Duration::MAX) {
                Front::Stale => self.pop(false, false, limits),
                Front::Remove => self.pop(false, true, limits),
                _ => {}
            }
        }
    }

    /// The state of the front item of the lease queue (`leases`) or the record queue.
    /// A record can go once expired or `min_age` old.
    fn front(&self, leases: bool, now: Instant, min_age: Duration) -> Front {
        let queue = if leases { &self.leases } else { &self.records };
        let Some((key, stamp)) = queue.front() else {
            return Front::Empty;
        };
        let Some(entry) = self.map.get(&**key).filter(|e| e.stamp == *stamp) else {
            return Front::Stale;
        };
        let goes_at = if leases {
            entry.expires_at
        } else {
            goes_at(entry, min_age)
        };
        match goes_at.checked_duration_since(now) {
            Some(left) if !left.is_zero() => Front::Live(left),
            _ => Front::Remove,
        }
    }

    fn pop(&mut self, leases: bool, remove: bool, limits: &Limits) {
        let queue = if leases {
            &mut self.leases
        } else {
            &mut self.records
        };
        if let Some((key, _)) = queue.pop_front()
            && remove
        {
            self.remove(&key, limits);
        }
    }
}

/// When a completed entry may go: when it expires, or once `min_age` old.
fn goes_at(entry: &Entry, min_age: Duration) -> Instant {
    entry
        .expires_at
        .min(entry.since.checked_add(min_age).unwrap_or(entry.expires_at))
}

fn in_flight(
    fingerprint: Fingerprint,
    expires_at: Instant,
    now: Instant,
    token: u64,
    bytes: usize,
) -> Entry {
    Entry {
        fingerprint,
        expires_at,
        since: now,
        stamp: token,
        bytes,
        state: State::InFlight { token },
    }
}

/// `now + ttl`, saturating far in the future instead of overflowing.
fn expiry(now: Instant, ttl: Duration) -> Instant {
    const FAR: Duration = Duration::from_secs(100 * 365 * 24 * 60 * 60);
    now.checked_add(ttl.min(FAR))
        .or_else(|| now.checked_add(Duration::from_secs(365 * 24 * 60 * 60)))
        .unwrap_or(now)
}
