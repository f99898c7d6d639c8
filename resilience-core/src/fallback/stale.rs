//! [`Stale`]: the last success per key, kept for stale-if-error, in bounded memory.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, RandomState};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

use crate::durations::nanos;

/// Shards at most: calls with different keys rarely wait on one lock.
const SHARDS: usize = 16;

/// Keys per shard at least: a small store is one shard, so that its eviction order is
/// exact (the oldest entry of the whole store goes first); a large one is split, and
/// evicts the oldest of the new key's shard.
const MIN_PER_SHARD: usize = 64;

/// One shard: a part of the keys, under its own lock.
type Shard<K, T> = Mutex<HashMap<K, Entry<T>>>;

struct Entry<T> {
    at: Instant,
    value: T,
}

/// The last success of each key, for at most `max_age`, at most `max_keys` keys.
///
/// When a shard is full, a new key first evicts the entries older than `max_age` (they
/// could not be served any more), then, if none was, the shard's oldest entry: a full
/// store keeps the most recent successes, and never grows. A store of fewer than 128 keys
/// is one shard, so its oldest entry is exactly the store's oldest.
pub(crate) struct Stale<K, T> {
    /// In nanoseconds; changed in place by [`reconfigure`](Self::reconfigure).
    max_age: AtomicU64,
    /// Changed in place by [`reconfigure`](Self::reconfigure), with `per_shard`.
    max_keys: AtomicUsize,
    per_shard: AtomicUsize,
    hasher: RandomState,
    shards: Box<[Shard<K, T>]>,
    clone: fn(&T) -> T,
    /// Serialises [`reconfigure`](Self::reconfigure): two at once apply one after the
    /// other, never a mix of their limits.
    writer: Mutex<()>,
}

impl<K, T> Stale<K, T> {
    pub(crate) fn max_age(&self) -> Duration {
        Duration::from_nanos(self.max_age.load(Ordering::Relaxed))
    }

    /// The most keys the store holds.
    pub(crate) fn max_keys(&self) -> usize {
        self.max_keys.load(Ordering::Relaxed)
    }

    /// The fewest keys the store can be limited to: one per shard.
    pub(crate) fn min_keys(&self) -> usize {
        self.shards.len()
    }
}

/// Removes from `map` the entries older than `max_age` if it holds more than `keep`,
/// then its oldest entries until it holds `keep`.
fn trim<K: Hash + Eq, T>(
    map: &mut HashMap<K, Entry<T>>,
    keep: usize,
    max_age: Duration,
    now: Instant,
) {
    if map.len() <= keep {
        return;
    }
    map.retain(|_, e| now.saturating_duration_since(e.at) <= max_age);
    while map.len() > keep {
        let oldest = map
            .iter()
            .min_by_key(|(_, e)| e.at)
            .map(|(k, _)| k as *const K);
        // Found by address, removed by key: the map is not touched in between.
        let Some(oldest) = oldest else { return };
        map.retain(|k, _| !std::ptr::eq(k, oldest));
    }
}

impl<K: Hash + Eq, T> Stale<K, T> {
    pub(crate) fn new(max_age: Duration, max_keys: usize, clone: fn(&T) -> T) -> Self {
        let shards = (max_keys / MIN_PER_SHARD).clamp(1, SHARDS);
        Self {
            max_age: AtomicU64::new(nanos(max_age)),
            max_keys: AtomicUsize::new(max_keys),
            per_shard: AtomicUsize::new((max_keys / shards).max(1)),
            hasher: RandomState::new(),
            shards: (0..shards).map(|_| Mutex::new(HashMap::new())).collect(),
            clone,
            writer: Mutex::new(()),
        }
    }

    fn shard(&self, key: &K) -> &Shard<K, T> {
        let i = (self.hasher.hash_one(key) % self.shards.len() as u64) as usize;
        &self.shards[i]
    }

    /// Keeps a copy of `value`, the success of `key` at `now`.
    pub(crate) fn put(&self, key: K, value: &T, now: Instant) {
        let value = (self.clone)(value);
        let mut map = self
            .shard(&key)
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if !map.contains_key(&key) {
            let per_shard = self.per_shard.load(Ordering::Relaxed);
            trim(&mut map, per_shard - 1, self.max_age(), now);
        }
        map.insert(key, Entry { at: now, value });
    }

    /// Takes a new `max_age` and `max_keys` (at least [`min_keys`](Self::min_keys)) in
    /// place. Entries are kept, up to the new `max_keys`: past it, the expired ones and
    /// then the oldest go at once.
    pub(crate) fn reconfigure(&self, max_age: Duration, max_keys: usize, now: Instant) {
        let _one_writer = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        let per_shard = (max_keys / self.shards.len()).max(1);
        self.max_age.store(nanos(max_age), Ordering::Relaxed);
        self.max_keys.store(max_keys, Ordering::Relaxed);
        self.per_shard.store(per_shard, Ordering::Relaxed);
        for shard in &self.shards {
            let mut map = shard.lock().unwrap_or_else(PoisonError::into_inner);
            trim(&mut map, per_shard, max_age, now);
        }
    }

    /// A copy of the last success of `key` and its age, if it is at most `max_age` old.
    pub(crate) fn get(&self, key: &K, now: Instant) -> Option<(T, Duration)> {
        let map = self
            .shard(key)
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let entry = map.get(key)?;
        let age = now.saturating_duration_since(entry.at);
        (age <= self.max_age()).then(|| ((self.clone)(&entry.value), age))
    }

    /// Keys held now (fresh or not).
    pub(crate) fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(PoisonError::into_inner).len())
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_full_store_evicts_the_oldest_and_never_grows() {
        let stale = Stale::<u32, u32>::new(Duration::from_secs(60), 4, Clone::clone);
        for key in 0..10 {
            stale.put(key, &key, Instant::now());
            tokio::time::advance(Duration::from_millis(1)).await;
        }
        assert!(stale.len() <= 4, "{}", stale.len());
        assert_eq!(
            stale.get(&9, Instant::now()).map(|(v, _)| v),
            Some(9),
            "the newest is kept"
        );
        assert!(
            stale.get(&0, Instant::now()).is_none(),
            "the oldest went first"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn an_entry_is_served_up_to_its_max_age_and_not_after() {
        let max_age = Duration::from_secs(30);
        let stale = Stale::<(), &str>::new(max_age, 1, Clone::clone);
        stale.put((), &"cached", Instant::now());
        tokio::time::advance(max_age).await;
        assert_eq!(stale.get(&(), Instant::now()), Some(("cached", max_age)));
        tokio::time::advance(Duration::from_millis(1)).await;
        assert_eq!(stale.get(&(), Instant::now()), None);
    }
}
