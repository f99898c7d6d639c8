//! [`KeyMap`]: one `u64` per key, in bounded memory, where a value not ahead of now means
//! "nothing to remember" (a full bucket, a key not blocked) and may be dropped at any time.
//!
//! Sharded by hash, each shard a hash table behind a read–write lock: a hit takes the
//! read lock, hashes the key once and works on the key's atomic; only a new key takes
//! the write lock. A shard that is full when a new key arrives first drops its idle keys
//! (value ≤ now: dropping them changes no decision); if every key is active, it drops the
//! eighth nearest to idle (smallest value), so one client's burst of new keys never locks
//! anyone out and the cost of making room is paid once per eighth of a shard.

use std::borrow::Borrow;
use std::hash::{BuildHasher, Hash, RandomState};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{PoisonError, RwLock};

use hashbrown::HashTable;

/// Shards for a table of `max_keys`: enough to spread writers, never more than keys, and
/// a power of two (a shard is picked with a mask, not a division).
fn shard_count(max_keys: usize) -> usize {
    let n = (max_keys / 64).clamp(1, 16);
    1 << n.ilog2()
}

/// Shard `i`'s share of `max_keys` among `n`: exactly `max_keys` in all, the first
/// `max_keys % n` shards taking one more.
fn share(max_keys: usize, n: usize, i: usize) -> usize {
    max_keys / n + usize::from(i < max_keys % n)
}

pub(crate) struct KeyMap<K> {
    shards: Box<[Shard<K>]>,
    /// Keyed per map (SipHash with a random key): clients choose keys, so they must not be
    /// able to choose collisions.
    hasher: SipKeys,
}

/// SipHash-1-3 under a random 128-bit key: the function and strength of the standard
/// library's `RandomState`, through a hasher that hashes an integer key as one word
/// (the standard one hashes it as a slice of bytes, at about twice the instructions).
#[derive(Clone, Copy)]
struct SipKeys {
    k0: u64,
    k1: u64,
}

impl SipKeys {
    /// Fresh keys, drawn from the standard library's random source: two outputs of a
    /// SipHash under its random key are as unpredictable as the key.
    fn random() -> Self {
        let source = RandomState::new();
        Self {
            k0: source.hash_one(0_u8),
            k1: source.hash_one(1_u8),
        }
    }
}

impl BuildHasher for SipKeys {
    type Hasher = siphasher::sip::SipHasher13;

    #[inline]
    fn build_hasher(&self) -> Self::Hasher {
        siphasher::sip::SipHasher13::new_with_keys(self.k0, self.k1)
    }
}

struct Shard<K> {
    table: RwLock<HashTable<Entry<K>>>,
    /// Changed by [`KeyMap::set_capacity`].
    capacity: AtomicUsize,
}

struct Entry<K> {
    key: K,
    value: AtomicU64,
}

impl<K> KeyMap<K> {
    /// The most keys tracked at once.
    pub(crate) fn capacity(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.capacity.load(Ordering::Relaxed))
            .sum()
    }

    /// The fewest keys a map can be given: one per shard.
    pub(crate) fn min_capacity(&self) -> usize {
        self.shards.len()
    }
}

impl<K: Hash + Eq> KeyMap<K> {
    /// A map holding at most `max_keys` keys (at least 1).
    pub(crate) fn new(max_keys: usize) -> Self {
        let n = shard_count(max_keys);
        let shards = (0..n)
            .map(|i| Shard {
                table: RwLock::new(HashTable::new()),
                capacity: AtomicUsize::new(share(max_keys, n, i)),
            })
            .collect();
        Self {
            shards,
            hasher: SipKeys::random(),
        }
    }

    fn locate<Q: Hash + ?Sized>(&self, key: &Q) -> (u64, &Shard<K>) {
        let hash = self.hasher.hash_one(key);
        // The table uses the low bits; the shard, bits it does not. The count is a power
        // of two.
        let shard = (hash >> 40) as usize & (self.shards.len() - 1);
        (hash, &self.shards[shard])
    }

    /// `f` on the key's value, if the key is tracked.
    #[cfg_attr(not(feature = "redis"), allow(dead_code))] // Used by the Redis limiter.
    pub(crate) fn get<Q, R>(&self, key: &Q, f: impl FnOnce(&AtomicU64) -> R) -> Option<R>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let (hash, shard) = self.locate(key);
        let table = shard.table.read().unwrap_or_else(PoisonError::into_inner);
        table
            .find(hash, |e| e.key.borrow() == key)
            .map(|e| f(&e.value))
    }

    /// `f` on the key's value, tracking the key (with value 0) first if it is new; `now`
    /// decides which keys are idle if room must be made.
    #[inline]
    pub(crate) fn with<Q, R>(&self, key: &Q, now: u64, f: impl FnOnce(&AtomicU64) -> R) -> R
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        let (hash, shard) = self.locate(key);
        {
            let table = shard.table.read().unwrap_or_else(PoisonError::into_inner);
            if let Some(entry) = table.find(hash, |e| e.key.borrow() == key) {
                return f(&entry.value);
            }
        }
        let mut table = shard.table.write().unwrap_or_else(PoisonError::into_inner);
        // Another caller may have added it between the two locks.
        if let Some(entry) = table.find(hash, |e| e.key.borrow() == key) {
            return f(&entry.value);
        }
        if table.len() >= shard.capacity.load(Ordering::Relaxed) {
            make_room(&mut table, now);
        }
        let entry = Entry {
            key: key.to_owned(),
            value: AtomicU64::new(0),
        };
        let hasher = &self.hasher;
        let inserted = table.insert_unique(hash, entry, |e| hasher.hash_one(&e.key));
        f(&inserted.get().value)
    }

    /// Holds at most `max_keys` keys from now on (at least
    /// [`min_capacity`](Self::min_capacity)); a shard above its new share drops its idle
    /// keys, then those nearest to idle, at once.
    pub(crate) fn set_capacity(&self, max_keys: usize, now: u64) {
        let n = self.shards.len();
        for (i, shard) in self.shards.iter().enumerate() {
            let capacity = share(max_keys, n, i);
            shard.capacity.store(capacity, Ordering::Relaxed);
            let mut table = shard.table.write().unwrap_or_else(PoisonError::into_inner);
            if table.len() > capacity {
                table.retain(|e| *e.value.get_mut() > now);
            }
            if table.len() > capacity {
                let excess = table.len() - capacity;
                forget_nearest_to_idle(&mut table, excess);
            }
        }
    }

    /// Keys tracked now.
    pub(crate) fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.table.read().unwrap_or_else(PoisonError::into_inner).len())
            .sum()
    }

    /// Drops every idle key (value ≤ `now`); returns how many.
    pub(crate) fn sweep(&self, now: u64) -> usize {
        self.shards
            .iter()
            .map(|shard| {
                let mut table = shard.table.write().unwrap_or_else(PoisonError::into_inner);
                let before = table.len();
                table.retain(|e| *e.value.get_mut() > now);
                before - table.len()
            })
            .sum()
    }
}

/// Makes room for one key in a full shard; see the [module docs](self).
#[cold]
fn make_room<K>(table: &mut HashTable<Entry<K>>, now: u64) {
    let full = table.len();
    table.retain(|e| *e.value.get_mut() > now);
    if table.len() < full || full == 0 {
        return;
    }
    let evict = (full / 8).max(1);
    forget_nearest_to_idle(table, evict);
}

/// Forgets the `count` keys nearest to idle (smallest value) of `table`, which holds at
/// least `count`.
fn forget_nearest_to_idle<K>(table: &mut HashTable<Entry<K>>, count: usize) {
    if count == 0 {
        return;
    }
    let mut values: Vec<u64> = table
        .iter()
        .map(|e| e.value.load(Ordering::Relaxed))
        .collect();
    let threshold = *values.select_nth_unstable(count - 1).1;
    let mut left = count;
    table.retain(|e| {
        if left > 0 && *e.value.get_mut() <= threshold {
            left -= 1;
            false
        } else {
            true
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(map: &KeyMap<String>, key: &str, value: u64, now: u64) {
        map.with(key, now, |v| v.store(value, Ordering::Relaxed));
    }

    #[test]
    fn capacity_is_exactly_max_keys_across_shards() {
        for max in [1, 7, 64, 200, 1000, 100_000] {
            let map = KeyMap::<u32>::new(max);
            assert_eq!(map.capacity(), max);
            assert!(map.shards.len().is_power_of_two());
            assert!(map.shards.len() <= max.max(1));
        }
        assert_eq!(KeyMap::<u32>::new(200).shards.len(), 2);
        assert_eq!(KeyMap::<u32>::new(100_000).shards.len(), 16);
    }

    #[test]
    fn keys_spread_over_every_shard() {
        let map = KeyMap::<u64>::new(100_000);
        for k in 0..4096_u64 {
            map.with(&k, 0, |v| v.store(1, Ordering::Relaxed));
        }
        for shard in map.shards.iter() {
            let len = shard.table.read().unwrap().len();
            assert!(
                (128..=384).contains(&len),
                "{len} of 4096 keys in one of 16 shards"
            );
        }
    }

    #[test]
    fn a_full_table_forgets_idle_keys_first() {
        let map = KeyMap::<String>::new(4);
        set(&map, "idle", 5, 0);
        for k in ["a", "b", "c"] {
            set(&map, k, 100, 0);
        }
        set(&map, "new", 100, 10);
        assert_eq!(map.len(), 4);
        assert!(map.get("idle", |_| ()).is_none());
        for k in ["a", "b", "c", "new"] {
            assert!(map.get(k, |_| ()).is_some(), "{k}");
        }
    }

    #[test]
    fn a_full_table_of_active_keys_forgets_the_one_nearest_to_idle() {
        let map = KeyMap::<String>::new(4);
        for (k, v) in [("a", 400), ("b", 200), ("c", 300), ("d", 500)] {
            set(&map, k, v, 0);
        }
        set(&map, "new", 100, 0);
        assert_eq!(map.len(), 4);
        assert!(map.get("b", |_| ()).is_none());
        assert_eq!(map.get("new", |v| v.load(Ordering::Relaxed)), Some(100));
    }

    #[test]
    fn a_lower_capacity_forgets_only_the_keys_beyond_it_nearest_to_idle_first() {
        let map = KeyMap::<u32>::new(64);
        assert_eq!(map.shards.len(), 1);
        for k in 0..64 {
            map.with(&k, 0, |v| v.store(1000 + u64::from(k), Ordering::Relaxed));
        }
        map.set_capacity(63, 0);
        assert_eq!(map.len(), 63, "only the one key beyond the new capacity");
        assert!(
            map.get(&0, |_| ()).is_none(),
            "the key nearest to idle goes"
        );
        map.set_capacity(60, 0);
        assert_eq!(map.len(), 60);
        for k in 4..64 {
            assert!(map.get(&k, |_| ()).is_some(), "{k}");
        }
        // Idle keys go first, all of them (forgetting them changes no decision).
        map.with(&4, 0, |v| v.store(5, Ordering::Relaxed));
        map.with(&5, 0, |v| v.store(5, Ordering::Relaxed));
        map.set_capacity(59, 10);
        assert_eq!(map.len(), 58);
        assert!(map.get(&6, |_| ()).is_some());
    }

    #[test]
    fn sweep_drops_idle_keys_only() {
        let map = KeyMap::<String>::new(100);
        set(&map, "old", 10, 0);
        set(&map, "busy", 50, 0);
        assert_eq!(map.sweep(20), 1);
        assert_eq!(map.len(), 1);
        assert!(map.get("busy", |_| ()).is_some());
    }
}
