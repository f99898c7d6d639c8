//! `MemoryStore::bytes` against the heap memory its entries really hold, measured by a
//! counting allocator. A binary of its own: the allocator counts the whole process.

use std::alloc::System;
use std::time::Duration;

use bytes::Bytes;
use resilience_core::idempotency::{
    Claim, Commit, Fingerprint, IdempotencyStore, MemoryStore, Record,
};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// It counted 30 bytes for an entry that held about 350 (key and record only).
#[test]
fn bytes_count_at_least_the_heap_memory_entries_hold() {
    const ENTRIES: usize = 10_000;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let store = MemoryStore::builder()
        .max_entries(4 * ENTRIES)
        .build()
        .unwrap();
    let fingerprint = Fingerprint::from_bytes([1; 32]);
    let region = Region::new(GLOBAL);
    runtime.block_on(async {
        for i in 0..ENTRIES {
            let key = format!("{i:030}");
            let Claim::Claimed(lease) = store
                .claim(&key, &fingerprint, Duration::from_secs(60))
                .await
                .unwrap()
            else {
                panic!("{key} not claimed");
            };
            let record = Record::new(
                201,
                vec![(
                    "content-type".into(),
                    Bytes::from_static(b"application/json"),
                )],
                Bytes::from(format!("{{\"id\":{i},\"status\":\"charged\"}}")),
            );
            let commit = store
                .complete(lease, record, Duration::from_secs(3600))
                .await
                .unwrap();
            assert_eq!(commit, Commit::Done);
        }
    });
    let change = region.change();
    let held = (change.bytes_allocated + change.bytes_reallocated.max(0) as usize)
        .saturating_sub(change.bytes_deallocated);
    let counted = store.bytes();
    assert!(
        counted >= held,
        "counted {counted} bytes for {held} held ({} vs {} per entry)",
        counted / ENTRIES,
        held / ENTRIES
    );
    assert!(
        counted <= 3 * held,
        "counted {counted} bytes for {held} held: far over"
    );
    drop(store);
}
