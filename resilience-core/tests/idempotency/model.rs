//! Random interleavings of claim, complete, release and the passing of time on the memory
//! store, checked step by step against a plain reference model.

use std::collections::HashMap;
use std::time::Duration;

use bytes::Bytes;
use proptest::prelude::*;
use resilience_core::idempotency::{Claim, Commit, IdempotencyStore, Lease, MemoryStore, Record};

use crate::suite::fp;

const KEYS: &[&str] = &["a", "bb", "ccc", "dddd", "é"];
const MAX_ENTRIES: usize = 3;
const MAX_BYTES: usize = 40;

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

    fn bytes_of(key: usize, entry: &Entry) -> usize {
        KEYS[key].len()
            + if entry.lease.is_none() {
                body_record(entry.body).size()
            } else {
                0
            }
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
        let others = self.live().filter(|(k, _)| **k != key);
        let (count, bytes) =
            others.fold((0, 0), |(c, b), (k, e)| (c + 1, b + Self::bytes_of(*k, e)));
        if count + 1 > MAX_ENTRIES || bytes + KEYS[key].len() > MAX_BYTES {
            return Outcome::Full;
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
                let bytes: usize = self.live().map(|(k, e)| Self::bytes_of(*k, e)).sum();
                if bytes + body_record(body).size() > MAX_BYTES {
                    return Outcome::Full;
                }
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
        .shards(1)
        .build()
        .unwrap();
    let mut model = Model::default();
    // Every lease handed out, with the key index it is for.
    let mut leases: Vec<(Lease, usize)> = Vec::new();
    for (step, op) in ops.into_iter().enumerate() {
        let (got, expected) = match op {
            Op::Claim { key, fp: f, ttl_ms } => {
                let expected = model.claim(key, f, ttl_ms, leases.len());
                let (got, lease) = outcome_of_claim(
                    store
                        .claim(KEYS[key], &fp(f), Duration::from_millis(ttl_ms))
                        .await,
                );
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
