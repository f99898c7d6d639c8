//! Random interleavings of claim, complete, release and the passing of time on the memory
//! store, checked step by step against a plain reference model.
//!
//! The model holds the entry limit (bytes are estimated by the store and tested on their
//! own in `memory.rs`) with records never evicted (`min_record_age` = forever). A full
//! store looks at a bounded number of its oldest entries, so it may refuse a claim while
//! an expired entry it did not reach holds the room: the model accepts that refusal (and
//! only that one) and follows the store.

use std::collections::HashMap;
use std::time::Duration;

use bytes::Bytes;
use proptest::prelude::*;
use resilience_core::idempotency::{Claim, Commit, IdempotencyStore, Lease, MemoryStore, Record};

use crate::suite::fp;

const KEYS: &[&str] = &["a", "bb", "ccc", "dddd", "é"];
const MAX_ENTRIES: usize = 3;
const MAX_BYTES: usize = 1 << 20;

#[derive(Debug, Clone)]
enum Op {
    Claim {
        key: usize,
        fp: u8,
        ttl_ms: u64,
    },
    Complete {
        lease: usize,
        body: usize,
        ttl_ms: u64,
    },
    Release {
        lease: usize,
    },
    Advance {
        ms: u64,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0..KEYS.len(), 0..2_u8, 0..50_u64).prop_map(|(key, fp, ttl_ms)| Op::Claim { key, fp, ttl_ms }),
        2 => (0..16_usize, 0..30_usize, 0..80_u64).prop_map(|(lease, body, ttl_ms)| Op::Complete { lease, body, ttl_ms }),
        1 => (0..16_usize).prop_map(|lease| Op::Release { lease }),
        2 => (0..40_u64).prop_map(|ms| Op::Advance { ms }),
    ]
}

/// What the model keeps per key.
#[derive(Debug, Clone)]
struct Entry {
    fp: u8,
    expires_at: u64,
    /// `Some(lease index)` while in flight, `None` once completed.
    lease: Option<usize>,
    /// Body length of the completed record.
    body: usize,
}

#[derive(Debug, Default)]
struct Model {
    now: u64,
    entries: HashMap<usize, Entry>,
}

/// What an operation returned, in a form both sides can produce.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Claimed,
    InFlight(Option<Duration>),
    Completed(Record),
    Mismatch,
    Commit(Commit),
    Full,
    /// The model has room only in an expired entry: the store may refuse, or claim.
    MaybeFull,
    NoSuchLease,
    Advanced,
}

fn body_record(len: usize) -> Record {
    Record::new(200, vec![], Bytes::from(vec![b'x'; len]))
}

impl Model {
    fn live(&self) -> impl Iterator<Item = (&usize, &Entry)> {
        self.entries.iter().filter(|(_, e)| e.expires_at > self.now)
    }

    fn claim(&mut self, key: usize, fp: u8, ttl: u64, lease_index: usize) -> Outcome {
        if let Some(entry) = self.entries.get(&key).filter(|e| e.expires_at > self.now) {
            return if entry.fp != fp {
                Outcome::Mismatch
            } else if entry.lease.is_some() {
                Outcome::InFlight(Some(Duration::from_millis(entry.expires_at - self.now)))
            } else {
                Outcome::Completed(body_record(entry.body))
            };
        }
        let live = self.live().filter(|(k, _)| **k != key).count();
        if live + 1 > MAX_ENTRIES {
            return Outcome::Full;
        }
        // Room, but perhaps only in an expired entry the store may not reach.
        let held = self.entries.keys().filter(|k| **k != key).count();
        if held + 1 > MAX_ENTRIES {
            return Outcome::MaybeFull;
        }
        self.entries.insert(
            key,
            Entry {
                fp,
                expires_at: self.now + ttl,
                lease: Some(lease_index),
                body: 0,
            },
        );
        Outcome::Claimed
    }

    fn finish(
        &mut self,
        key: usize,
        lease_index: usize,
        complete: Option<(usize, u64)>,
    ) -> Outcome {
        let current = self
            .entries
            .get(&key)
            .is_some_and(|e| e.expires_at > self.now && e.lease == Some(lease_index));
        if !current {
            return Outcome::Commit(Commit::Stale);
        }
        match complete {
            None => {
                self.entries.remove(&key);
            }
            Some((body, ttl)) => {
                let entry = self.entries.get_mut(&key).unwrap();
                entry.lease = None;
                entry.body = body;
                entry.expires_at = self.now + ttl;
            }
        }
        Outcome::Commit(Commit::Done)
    }
}

fn outcome_of_claim(result: Result<Claim, resilience_core::Error>) -> (Outcome, Option<Lease>) {
    match result {
        Ok(Claim::Claimed(lease)) => (Outcome::Claimed, Some(lease)),
        Ok(Claim::InFlight { lease_expires_in }) => (Outcome::InFlight(lease_expires_in), None),
        Ok(Claim::Completed(record)) => (Outcome::Completed(record), None),
        Ok(Claim::Mismatch) => (Outcome::Mismatch, None),
        Ok(other) => panic!("unknown claim {other:?}"),
        Err(_) => (Outcome::Full, None),
    }
}

fn outcome_of_commit(result: Result<Commit, resilience_core::Error>) -> Outcome {
    result.map_or(Outcome::Full, Outcome::Commit)
}

async fn run(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let store = MemoryStore::builder()
        .max_entries(MAX_ENTRIES)
        .max_bytes(MAX_BYTES)
        .min_record_age(Duration::MAX)
        .shards(1)
        .build()
        .unwrap();
    let mut model = Model::default();
    // Every lease handed out, with the key index it is for.
    let mut leases: Vec<(Lease, usize)> = Vec::new();
    for (step, op) in ops.into_iter().enumerate() {
        let (got, expected) = match op {
            Op::Claim { key, fp: f, ttl_ms } => {
                let mut expected = model.claim(key, f, ttl_ms, leases.len());
                let (got, lease) = outcome_of_claim(
                    store
                        .claim(KEYS[key], &fp(f), Duration::from_millis(ttl_ms))
                        .await,
                );
                if expected == Outcome::MaybeFull {
                    // Follow the store: it made room by removing expired entries, or not.
                    expected = match got {
                        Outcome::Full => Outcome::Full,
                        _ => {
                            model.entries.retain(|_, e| e.expires_at > model.now);
                            model.claim(key, f, ttl_ms, leases.len())
                        }
                    };
                }
                if let Some(lease) = lease {
                    leases.push((lease, key));
                }
                (got, expected)
            }
            Op::Complete {
                lease,
                body,
                ttl_ms,
            } => {
                let Some((held, key)) = leases.get(lease).cloned() else {
                    continue;
                };
                let expected = model.finish(key, lease, Some((body, ttl_ms)));
                let got = store
                    .complete(held, body_record(body), Duration::from_millis(ttl_ms))
                    .await;
                (outcome_of_commit(got), expected)
            }
            Op::Release { lease } => {
                let Some((held, key)) = leases.get(lease).cloned() else {
                    continue;
                };
                let expected = model.finish(key, lease, None);
                (outcome_of_commit(store.release(held).await), expected)
            }
            Op::Advance { ms } => {
                model.now += ms;
                tokio::time::advance(Duration::from_millis(ms)).await;
                (Outcome::Advanced, Outcome::Advanced)
            }
        };
        prop_assert_eq!(&got, &expected, "step {} ({:?})", step, model);
        prop_assert_ne!(got, Outcome::NoSuchLease);
    }
    // The store never holds more than its limits, expired entries included.
    prop_assert!(store.len() <= MAX_ENTRIES);
    prop_assert!(store.bytes() <= MAX_BYTES);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn memory_store_matches_the_model(ops in proptest::collection::vec(op(), 1..60)) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap();
        runtime.block_on(run(ops))?;
    }
}
