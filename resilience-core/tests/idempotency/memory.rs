//! The memory store: the shared suite, then capacity, expiry housekeeping and edge TTLs.

use std::time::Duration;

use bytes::Bytes;
use resilience_core::idempotency::{Claim, Commit, IdempotencyStore, MemoryStore, Record};

use crate::suite::{DAY, LOCK_TTL, assert_unavailable, claimed, fp, record};

async fn make() -> Option<MemoryStore> {
    Some(MemoryStore::new())
}

mod shared_suite {
    store_suite!(super::make, #[tokio::test(start_paused = true)]);
}

fn small(max_entries: usize, max_bytes: usize) -> MemoryStore {
    MemoryStore::builder()
        .name("checkout")
        .max_entries(max_entries)
        .max_bytes(max_bytes)
        .shards(1)
        .build()
        .unwrap()
}

#[tokio::test(start_paused = true)]
async fn a_full_store_refuses_new_claims_and_keeps_every_live_entry() {
    let store = small(2, 1 << 20);
    let a = claimed(&store, "a", 1).await;
    let b = claimed(&store, "b", 1).await;
    let _ = store.complete(b, record(b"b"), DAY).await.unwrap();

    let err = store.claim("c", &fp(1), LOCK_TTL).await.unwrap_err();
    assert_unavailable(&err);
    assert_eq!(err.instance(), Some("checkout"));
    assert_eq!(
        err.retry_after(),
        Some(LOCK_TTL),
        "the hint is when the soonest entry expires"
    );
    assert_eq!(err.detail(), Some("the idempotency store is full"));

    // Neither the lease nor the record was evicted, and known keys still answer.
    assert!(matches!(
        store.claim("a", &fp(1), LOCK_TTL).await.unwrap(),
        Claim::InFlight { .. }
    ));
    assert_eq!(
        store.claim("b", &fp(1), LOCK_TTL).await.unwrap(),
        Claim::Completed(record(b"b"))
    );
    // Releasing makes room.
    assert_eq!(store.release(a).await.unwrap(), Commit::Done);
    claimed(&store, "c", 1).await;
}

#[tokio::test(start_paused = true)]
async fn expired_entries_make_room_when_the_store_is_full() {
    let store = small(2, 1 << 20);
    let _abandoned = claimed(&store, "a", 1).await;
    let b = claimed(&store, "b", 1).await;
    let _ = store.complete(b, record(b"b"), LOCK_TTL).await.unwrap();
    tokio::time::sleep(LOCK_TTL).await;
    claimed(&store, "c", 1).await;
    claimed(&store, "d", 1).await;
    assert_eq!(store.len(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_record_over_the_byte_limit_fails_and_the_key_stays_in_flight() {
    let store = small(10, 64);
    let lease = claimed(&store, "k", 1).await;
    let big = Record::new(200, vec![], Bytes::from(vec![0; 100]));
    let err = store.complete(lease.clone(), big, DAY).await.unwrap_err();
    assert_unavailable(&err);
    assert_eq!(
        err.field("limit").map(ToString::to_string).as_deref(),
        Some("bytes")
    );
    // Duplicates must not run the operation again while the lease holds.
    assert!(matches!(
        store.claim("k", &fp(1), LOCK_TTL).await.unwrap(),
        Claim::InFlight { .. }
    ));
    // A record that fits still completes the same lease.
    assert_eq!(
        store.complete(lease, record(b"ok"), DAY).await.unwrap(),
        Commit::Done
    );
}

#[tokio::test(start_paused = true)]
async fn new_keys_are_refused_when_the_bytes_are_taken() {
    let store = small(10, 8);
    claimed(&store, "1234", 1).await;
    claimed(&store, "5678", 1).await;
    let err = store.claim("9", &fp(1), LOCK_TTL).await.unwrap_err();
    assert_unavailable(&err);
    assert_eq!(store.bytes(), 8);
}

#[tokio::test(start_paused = true)]
async fn bytes_count_keys_and_records_and_are_given_back() {
    let store = small(10, 1 << 20);
    let lease = claimed(&store, "key", 1).await;
    assert_eq!(store.bytes(), 3);
    let stored = record(b"body");
    let size = stored.size();
    let _ = store.complete(lease, stored, LOCK_TTL).await.unwrap();
    assert_eq!(store.bytes(), 3 + size);
    let lease = claimed(&store, "other", 1).await;
    let _ = store.release(lease).await.unwrap();
    assert_eq!(store.bytes(), 3 + size);
    tokio::time::sleep(LOCK_TTL).await;
    assert_eq!(store.purge_expired(), 1);
    assert_eq!((store.len(), store.bytes()), (0, 0));
}

#[tokio::test(start_paused = true)]
async fn purge_expired_removes_only_expired_entries() {
    let store = MemoryStore::new();
    for key in ["a", "b", "c"] {
        claimed(&store, key, 1).await;
    }
    tokio::time::sleep(LOCK_TTL / 2).await;
    claimed(&store, "d", 1).await;
    tokio::time::sleep(LOCK_TTL / 2).await;
    assert_eq!(store.len(), 4);
    assert_eq!(store.purge_expired(), 3);
    assert!(matches!(
        store.claim("d", &fp(1), LOCK_TTL).await.unwrap(),
        Claim::InFlight { .. }
    ));
}

#[tokio::test(start_paused = true)]
async fn expired_entries_are_swept_without_being_touched_again() {
    // Expired keys that nobody asks for again must not pile up until the store is full.
    let store = MemoryStore::builder().shards(1).build().unwrap();
    for i in 0..1000 {
        store
            .claim(&format!("old-{i}"), &fp(1), Duration::from_millis(1))
            .await
            .unwrap();
    }
    tokio::time::sleep(Duration::from_millis(2)).await;
    for i in 0..1000 {
        claimed(&store, &format!("new-{i}"), 1).await;
    }
    assert!(
        store.len() < 2000,
        "expired entries were swept: {}",
        store.len()
    );
}

#[tokio::test(start_paused = true)]
async fn extreme_ttls_do_not_panic() {
    let store = MemoryStore::new();
    let lease = match store.claim("max", &fp(1), Duration::MAX).await.unwrap() {
        Claim::Claimed(lease) => lease,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        store
            .complete(lease, record(b"kept"), Duration::MAX)
            .await
            .unwrap(),
        Commit::Done
    );
    tokio::time::sleep(DAY * 365).await;
    assert_eq!(
        store.claim("max", &fp(1), LOCK_TTL).await.unwrap(),
        Claim::Completed(record(b"kept"))
    );

    // A zero lock TTL claims a lease that has already lapsed: it can commit nothing.
    let lease = match store.claim("zero", &fp(1), Duration::ZERO).await.unwrap() {
        Claim::Claimed(lease) => lease,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        store.complete(lease, record(b"x"), DAY).await.unwrap(),
        Commit::Stale
    );
}

#[tokio::test]
async fn clones_share_entries() {
    let store = MemoryStore::new();
    let clone = store.clone();
    let lease = claimed(&store, "k", 1).await;
    let _ = clone.complete(lease, record(b"ok"), DAY).await.unwrap();
    assert_eq!(
        store.claim("k", &fp(1), LOCK_TTL).await.unwrap(),
        Claim::Completed(record(b"ok"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_keys_claimed_concurrently_each_have_one_winner() {
    let store = std::sync::Arc::new(MemoryStore::new());
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut won = 0;
                for key in 0..500 {
                    if let Claim::Claimed(lease) =
                        store.claim(&key.to_string(), &fp(1), DAY).await.unwrap()
                    {
                        won += 1;
                        let _ = store.complete(lease, record(b"ok"), DAY).await.unwrap();
                    }
                }
                won
            })
        })
        .collect();
    let mut total = 0;
    for task in tasks {
        total += task.await.unwrap();
    }
    assert_eq!(total, 500);
    assert_eq!(store.len(), 500);
}
