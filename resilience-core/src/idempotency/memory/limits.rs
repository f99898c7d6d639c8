//! The store-wide limits every shard draws on: the byte budget, the per-scope quota, and
//! the memory an entry is counted for.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::mem::size_of;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::super::store::Record;
use super::lock;

use crate::durations::nanos;

/// What every shard shares.
#[derive(Debug)]
pub(super) struct Limits {
    pub(super) budget: Budget,
    pub(super) quota: Option<Quota>,
    /// A completed record younger than this is never evicted to make room; in
    /// nanoseconds, changed in place by a reconfigure.
    pub(super) min_record_age: AtomicU64,
}

impl Limits {
    pub(super) fn new(max_bytes: usize, quota: Option<Quota>, min_record_age: Duration) -> Self {
        Self {
            budget: Budget::new(max_bytes),
            quota,
            min_record_age: AtomicU64::new(nanos(min_record_age)),
        }
    }

    pub(super) fn min_record_age(&self) -> Duration {
        Duration::from_nanos(self.min_record_age.load(Relaxed))
    }

    pub(super) fn set_min_record_age(&self, age: Duration) {
        self.min_record_age.store(nanos(age), Relaxed);
    }
}

/// The store-wide byte limit: one counter, so that one record may use any share of it.
#[derive(Debug)]
pub(super) struct Budget {
    used: AtomicUsize,
    max: AtomicUsize,
}

impl Budget {
    pub(super) fn new(max: usize) -> Self {
        Self {
            used: AtomicUsize::new(0),
            max: AtomicUsize::new(max),
        }
    }

    pub(super) fn max(&self) -> usize {
        self.max.load(Relaxed)
    }

    /// A new limit: bytes over it are not taken back, new ones wait until they fit.
    pub(super) fn set_max(&self, max: usize) {
        self.max.store(max, Relaxed);
    }

    /// Takes `n` bytes if they fit.
    pub(super) fn try_reserve(&self, n: usize) -> bool {
        self.used
            .fetch_update(Relaxed, Relaxed, |used| {
                used.checked_add(n).filter(|&total| total <= self.max())
            })
            .is_ok()
    }

    pub(super) fn give_back(&self, n: usize) {
        self.used.fetch_sub(n, Relaxed);
    }

    pub(super) fn used(&self) -> usize {
        self.used.load(Relaxed)
    }
}

/// At most `max` entries per scope, counted store-wide in a map of its own (keyed by
/// scope, bounded by the store's entries: a scope is in it only while it holds one).
pub(super) struct Quota {
    max: AtomicUsize,
    hasher: RandomState,
    counts: Box<[Mutex<Counts>]>,
}

/// Entries held per scope, for the scopes of one quota shard.
type Counts = HashMap<Arc<str>, usize>;

impl Quota {
    pub(super) fn new(max: usize, shards: usize) -> Self {
        Self {
            max: AtomicUsize::new(max),
            hasher: RandomState::new(),
            counts: (0..shards).map(|_| Mutex::default()).collect(),
        }
    }

    pub(super) fn max(&self) -> usize {
        self.max.load(Relaxed)
    }

    /// A new quota: a scope over it keeps its entries, and claims no new one until it is
    /// under.
    pub(super) fn set_max(&self, max: usize) {
        self.max.store(max, Relaxed);
    }

    fn counts(&self, scope: &str) -> std::sync::MutexGuard<'_, Counts> {
        let index = self.hasher.hash_one(scope) as usize % self.counts.len();
        lock(&self.counts[index])
    }

    /// Counts one more entry for the scope of `key`, if the scope has room.
    pub(super) fn try_acquire(&self, key: &str) -> bool {
        let scope = scope_of(key);
        let mut counts = self.counts(scope);
        match counts.get_mut(scope) {
            Some(n) if *n >= self.max() => false,
            Some(n) => {
                *n += 1;
                true
            }
            None => {
                counts.insert(scope.into(), 1);
                true
            }
        }
    }

    /// Counts one entry fewer for the scope of `key`.
    pub(super) fn release(&self, key: &str) {
        let scope = scope_of(key);
        let mut counts = self.counts(scope);
        if let Some(n) = counts.get_mut(scope) {
            *n -= 1;
            if *n == 0 {
                counts.remove(scope);
            }
        }
    }
}

impl std::fmt::Debug for Quota {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Quota")
            .field("max", &self.max())
            .finish_non_exhaustive()
    }
}

/// The scope of a store key: what comes before its first `:` (the tower layer writes
/// `<scope hash>:<key>`), or the empty scope for a key without one.
pub(super) fn scope_of(key: &str) -> &str {
    key.split_once(':').map_or("", |(scope, _)| scope)
}

/// The heap memory an allocation of `n` bytes takes, as glibc's malloc rounds it: an
/// 8-byte header, 16-byte granules, 32 bytes at least.
const fn alloc(n: usize) -> usize {
    let chunk = (n + 8).div_ceil(16) * 16;
    if chunk < 32 { 32 } else { chunk }
}

/// What an entry costs besides its key and record. The map is a hash table between 7/16
/// and 7/8 full, so a slot (entry and control byte) takes up to twice its size; an entry
/// is in at most two of the shard's queues, whose buffers also grow by doubling.
const ENTRY: usize =
    2 * (size_of::<(Arc<str>, super::shard::Entry)>() + 1) + 2 * 2 * size_of::<(Arc<str>, u64)>();

/// The memory an entry with `key` and (when completed) `record` is counted for: an
/// estimate from the sizes of the structures that hold it, never below what they ask of
/// the allocator.
pub(super) fn cost(key: &str, record: Option<&Record>) -> usize {
    // The key is one `Arc<str>` allocation: two counters and the bytes.
    ENTRY + alloc(2 * size_of::<usize>() + key.len()) + record.map_or(0, record_cost)
}

fn record_cost(record: &Record) -> usize {
    let headers = record.headers();
    // The `Arc<[(name, value)]>`, each name and value, and the body with the shared
    // header a cloned `Bytes` allocates.
    alloc(2 * size_of::<usize>() + std::mem::size_of_val(headers))
        + headers
            .iter()
            .map(|(name, value)| alloc(name.len()) + alloc(value.len()))
            .sum::<usize>()
        + alloc(record.body().len())
        + alloc(3 * size_of::<usize>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_are_the_prefix_before_the_first_colon() {
        assert_eq!(scope_of("0123abcd:key:with:colons"), "0123abcd");
        assert_eq!(scope_of("-:key"), "-");
        assert_eq!(scope_of("unscoped"), "");
    }

    #[test]
    fn an_entry_costs_its_bookkeeping_besides_its_key_and_record() {
        // The docs say "about 450 bytes" (64-bit targets).
        #[cfg(target_pointer_width = "64")]
        assert!((400..=500).contains(&cost("", None)), "{}", cost("", None));
        assert!(cost(&"k".repeat(100), None) > cost("", None) + 90);
    }

    #[test]
    fn the_budget_never_goes_over_its_max() {
        let budget = Budget::new(10);
        assert!(budget.try_reserve(6));
        assert!(!budget.try_reserve(5));
        assert!(budget.try_reserve(4));
        assert!(!budget.try_reserve(usize::MAX));
        budget.give_back(10);
        assert_eq!(budget.used(), 0);
    }

    #[test]
    fn a_quota_counts_per_scope_and_forgets_empty_scopes() {
        let quota = Quota::new(2, 4);
        assert!(quota.try_acquire("a:1"));
        assert!(quota.try_acquire("a:2"));
        assert!(!quota.try_acquire("a:3"));
        assert!(quota.try_acquire("b:1"));
        quota.release("a:1");
        assert!(quota.try_acquire("a:3"));
        quota.release("b:1");
        assert!(quota.counts.iter().all(|m| !lock(m).contains_key("b")));
    }
}
