//! The in-memory idempotency store: one claim of a free key plus the completion that
//! stores its result, per operation. No peer: the row shows ours on both sides; read
//! operations per second as 1e9 / ns.
//!
//! Each runner cycles through its own 1024 keys and completes each with a 1 ns TTL, so
//! when it comes back to a key the stored record has expired and the claim takes the key
//! again: the store stays at a fixed size (as with a TTL sweep) instead of growing by
//! millions of keys. Two runners in the contended run use different keys of one store.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use resilience_core::idempotency::{
    Claim, Commit, Fingerprint, IdempotencyStore, MemoryStore, Record,
};

use crate::compare::{Comparison, Entry};

const KEYS: usize = 1024;
const LOCK_TTL: Duration = Duration::from_secs(30);
const RECORD_TTL: Duration = Duration::from_nanos(1);

pub(super) fn comparisons() -> Vec<Comparison> {
    let store = Arc::new(MemoryStore::new());
    let runners = Arc::new(AtomicUsize::new(0));
    let entry = Entry::future("resilience MemoryStore", move || {
        let store = Arc::clone(&store);
        let runner = runners.fetch_add(1, Ordering::Relaxed);
        let keys: Vec<String> = (0..KEYS)
            .map(|i| format!("runner-{runner}-key-{i}"))
            .collect();
        let fingerprint = Fingerprint::from_bytes([7; 32]);
        let mut next = 0;
        async move || {
            let key = &keys[next % KEYS];
            next += 1;
            let Ok(Claim::Claimed(lease)) = store.claim(key, &fingerprint, LOCK_TTL).await else {
                panic!("a free or expired key is always claimable");
            };
            let record = Record::new(200, Vec::new(), Bytes::from_static(b"ok"));
            let commit = store.complete(lease, record, RECORD_TTL).await;
            assert!(
                matches!(commit, Ok(Commit::Done)),
                "a current lease completes"
            );
        }
    });
    vec![Comparison::new("idempotency/memory_store claim+complete").ours(entry)]
}
