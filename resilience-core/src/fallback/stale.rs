//! [`Stale`]: the last success per key, kept for stale-if-error, in bounded memory.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, RandomState};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

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
    max_age: Duration,
    per_shard: usize,
    hasher: RandomState,
    shards: Box<[Shard<K, T>]>,
    clone: fn(&T) -> T,
}

impl<K, T> Stale<K, T> {
    pub(crate) fn max_age(&self) -> Duration {
        self.max_age
    }
}

impl<K: Hash + Eq, T> Stale<K, T> {
    pub(crate) fn new(max_age: Duration, max_keys: usize, clone: fn(&T) -> T) -> Self {
        let shards = (max_keys / MIN_PER_SHARD).clamp(1, SHARDS);
        Self {
            max_age,
            per_shard: (max_keys / shards).max(1),
            hasher: RandomState::new(),
            shards: (0..shards).map(|_| Mutex::new(HashMap::new())).collect(),
            clone,
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
        if map.len() >= self.per_shard && !map.contains_key(&key) {
            let max_age = self.max_age;
            map.retain(|_, e| now.saturating_duration_since(e.at) <= max_age);
            if map.len() >= self.per_shard {
                let oldest = map
                    .iter()
                    .min_by_key(|(_, e)| e.at)
                    .map(|(k, _)| k as *const K);
                // Found by address, removed by key: the map is not touched in between.
                if let Some(oldest) = oldest {
                    map.retain(|k, _| !std::ptr::eq(k, oldest));
                }
            }
        }
        map.insert(key, Entry { at: now, value });
    }

    /// A copy of the last success of `key` and its age, if it is at most `max_age` old.
    pub(crate) fn get(&self, key: &K, now: Instant) -> Option<(T, Duration)> {
        let map = self
            .shard(key)
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let entry = map.get(key)?;
        let age = now.saturating_duration_since(entry.at);
        (age <= self.max_age).then(|| ((self.clone)(&entry.value), age))
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
