//! The memory store's builder.

use std::hash::RandomState;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::Duration;

use super::limits::{Limits, Quota};
use super::shard::Shard;
use super::{MemoryStore, Shared};
use crate::config::check;
use crate::{ConfigError, Name, Primitive};

/// Builds a [`MemoryStore`]; start with [`MemoryStore::builder`].
///
/// | option | default | |
/// |---|---|---|
/// | [`name`](Self::name) | `"memory"` | instance name in errors |
/// | [`max_entries`](Self::max_entries) | 100 000 | keys held at once, in flight or completed |
/// | [`max_bytes`](Self::max_bytes) | 64 MiB | memory held at once (estimated, see [`MemoryStore::bytes`]) |
/// | [`max_entries_per_scope`](Self::max_entries_per_scope) | none | keys one client (scope) holds at once |
/// | [`min_record_age`](Self::min_record_age) | 5 min | a record younger than this is never evicted to make room |
/// | [`shards`](Self::shards) | 4 × the CPUs, a power of two, at most `max_entries / 64` | independent locks |
///
/// `max_entries` is split evenly between the shards; `max_bytes` and the per-scope quota
/// are store-wide (see [`MemoryStore`]'s "When full").
#[derive(Debug, Clone)]
#[must_use]
pub struct MemoryStoreBuilder {
    name: Name,
    max_entries: usize,
    max_bytes: usize,
    max_entries_per_scope: Option<usize>,
    min_record_age: Duration,
    shards: Option<usize>,
}

impl Default for MemoryStoreBuilder {
    fn default() -> Self {
        Self {
            name: Name::from_static("memory"),
            max_entries: 100_000,
            max_bytes: 64 << 20,
            max_entries_per_scope: None,
            min_record_age: Duration::from_secs(300),
            shards: None,
        }
    }
}

impl MemoryStoreBuilder {
    /// The instance name, carried by this store's errors.
    pub fn name(mut self, name: impl Into<Name>) -> Self {
        self.name = name.into();
        self
    }

    /// How many keys the store holds at once, in flight or completed (default 100 000).
    pub fn max_entries(mut self, max_entries: usize) -> Self {
        self.max_entries = max_entries;
        self
    }

    /// How much memory the store holds at once (default 64 MiB), store-wide: keys,
    /// records and the bookkeeping around them, as estimated by
    /// [`MemoryStore::bytes`].
    pub fn max_bytes(mut self, max_bytes: usize) -> Self {
        self.max_bytes = max_bytes;
        self
    }

    /// How many keys one scope (one client) may hold at once, in flight or completed
    /// (default: no quota). A key's scope is what comes before its first `:`, the
    /// namespace the HTTP layer's `scope` hook writes; see [`MemoryStore`]'s "Per-scope
    /// quota".
    pub fn max_entries_per_scope(mut self, max: usize) -> Self {
        self.max_entries_per_scope = Some(max);
        self
    }

    /// How long a completed record is kept whatever the pressure (default 5 minutes:
    /// clients retry within seconds or minutes). When the store is full, records older
    /// than this are evicted, oldest first, to make room; `Duration::MAX` never evicts a
    /// live record (a full store then refuses new keys until records expire).
    pub fn min_record_age(mut self, age: Duration) -> Self {
        self.min_record_age = age;
        self
    }

    /// How many independently locked shards to use: a power of two, at most
    /// `max_entries`. `1` gives exact store-wide limits at the cost of one lock.
    pub fn shards(mut self, shards: usize) -> Self {
        self.shards = Some(shards);
        self
    }

    /// Validates the options and builds the store.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] when `max_entries`, `max_bytes`, `max_entries_per_scope` or
    /// `shards` is zero, `shards` is not a power of two, or `shards` or
    /// `max_entries_per_scope` exceeds `max_entries`.
    pub fn build(self) -> Result<MemoryStore, ConfigError> {
        let checked = self.check()?;
        let max_entries = checked.max_entries;
        let shards = checked
            .shards
            .unwrap_or_else(|| default_shards(max_entries));
        let quota = checked.per_scope.map(|max| Quota::new(max, shards));
        let hasher = RandomState::new();
        let shard_entries = max_entries.div_ceil(shards);
        let shards = (0..shards)
            .map(|_| std::sync::Mutex::new(Shard::new(shard_entries, hasher.clone())))
            .collect();
        Ok(MemoryStore {
            shared: Arc::new(Shared {
                name: self.name,
                hasher,
                shards,
                limits: Limits::new(checked.max_bytes, quota, self.min_record_age),
                max_entries: AtomicUsize::new(max_entries),
                relief: AtomicUsize::new(0),
                writer: std::sync::Mutex::new(()),
            }),
        })
    }
}

/// A builder's options, checked.
pub(crate) struct Checked {
    pub(crate) max_entries: usize,
    pub(crate) max_bytes: usize,
    /// The shards asked for, if any.
    pub(crate) shards: Option<usize>,
    pub(crate) per_scope: Option<usize>,
    pub(crate) min_record_age: Duration,
}

impl MemoryStoreBuilder {
    /// Checks the options, as [`build`](Self::build) does.
    pub(crate) fn check(&self) -> Result<Checked, ConfigError> {
        let p = Primitive::Idempotency;
        let max_entries = check::nonzero(p, "max_entries", self.max_entries)?;
        let max_bytes = check::nonzero(p, "max_bytes", self.max_bytes)?;
        let shards = match self.shards {
            Some(shards) => {
                let shards = check::nonzero(p, "shards", shards)?;
                if !shards.is_power_of_two() {
                    return Err(ConfigError::new(
                        p,
                        "shards",
                        format!("must be a power of two, got {shards}"),
                    ));
                }
                check::ordered(p, "shards", shards, "max_entries", max_entries)?;
                Some(shards)
            }
            None => None,
        };
        let per_scope = match self.max_entries_per_scope {
            Some(max) => {
                let max = check::nonzero(p, "max_entries_per_scope", max)?;
                check::ordered(p, "max_entries_per_scope", max, "max_entries", max_entries)?;
                Some(max)
            }
            None => None,
        };
        Ok(Checked {
            max_entries,
            max_bytes,
            shards,
            per_scope,
            min_record_age: self.min_record_age,
        })
    }
}

/// 4 shards per CPU (so that threads rarely meet on one lock), but never fewer than 64
/// entries per shard (so that a shard's share of the capacity stays meaningful).
fn default_shards(max_entries: usize) -> usize {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let wanted = (cpus * 4).next_power_of_two();
    let most = prev_power_of_two((max_entries / 64).max(1));
    wanted.min(most)
}

fn prev_power_of_two(n: usize) -> usize {
    1 << (usize::BITS - 1 - n.leading_zeros())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_shards_are_a_power_of_two_with_room_in_each() {
        for max in [1, 63, 64, 65, 1000, 100_000, usize::MAX] {
            let shards = default_shards(max);
            assert!(shards.is_power_of_two(), "{max} -> {shards}");
            assert!(shards == 1 || max / shards >= 64, "{max} -> {shards}");
        }
    }

    #[test]
    fn invalid_options_are_refused() {
        let err = |b: MemoryStoreBuilder| b.build().unwrap_err().option();
        assert_eq!(err(MemoryStore::builder().max_entries(0)), "max_entries");
        assert_eq!(err(MemoryStore::builder().max_bytes(0)), "max_bytes");
        assert_eq!(err(MemoryStore::builder().shards(0)), "shards");
        assert_eq!(err(MemoryStore::builder().shards(3)), "shards");
        assert_eq!(
            err(MemoryStore::builder().max_entries(4).shards(8)),
            "shards"
        );
        assert_eq!(
            err(MemoryStore::builder().max_entries_per_scope(0)),
            "max_entries_per_scope"
        );
        assert_eq!(
            err(MemoryStore::builder()
                .max_entries(10)
                .max_entries_per_scope(11)),
            "max_entries_per_scope"
        );
        assert!(
            MemoryStore::builder()
                .max_entries(4)
                .shards(4)
                .build()
                .is_ok()
        );
    }
}
