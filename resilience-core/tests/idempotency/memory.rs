//! The memory store: the shared suite, then capacity, expiry housekeeping and edge TTLs.

use std::time::Duration;

use bytes::Bytes;
use resilience_core::idempotency::{Claim, Commit, IdempotencyStore, MemoryStore, Record};

use crate::suite::{DAY, LOCK_TTL, PAST_LOCK_TTL, assert_unavailable, claimed, fp, record};

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
        Some(Duration::from_secs(1)),
        "the hint is when the soonest entry can go (the lease, in 200 ms), in whole seconds"
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

/// The bytes one in-flight entry with a key of `len` bytes is counted for.
async fn entry_cost(len: usize) -> usize {
    let store = small(10, 1 << 20);
    claimed(&store, &"k".repeat(len), 1).await;
    store.bytes()
}

#[tokio::test(start_paused = true)]
async fn a_record_that_does_not_fit_completes_the_key_without_it_and_never_runs_twice() {
    let store = small(10, 4096);
    let lease = claimed(&store, "k", 1).await;
    let big = Record::new(200, vec![], Bytes::from(vec![0; 10_000]));
    assert_eq!(
        store.complete(lease, big, DAY).await.unwrap(),
        Commit::Unrecorded
    );
    // Long after the lock TTL, duplicates are refused, never claimed (which would run the
    // operation a second time).
    tokio::time::sleep(PAST_LOCK_TTL * 10).await;
    assert_eq!(
        store.claim("k", &fp(1), LOCK_TTL).await.unwrap(),
        Claim::Unrecorded
    );
    assert_eq!(
        store.claim("k", &fp(2), LOCK_TTL).await.unwrap(),
        Claim::Mismatch
    );
    // Until the record's TTL has passed.
    tokio::time::sleep(DAY).await;
    claimed(&store, "k", 1).await;
}

/// `max_bytes` is one store-wide budget: a record larger than an even share of it per
/// shard is stored (it was refused, and the handler could run again after the lock TTL).
#[tokio::test(start_paused = true)]
async fn a_record_larger_than_a_shards_share_of_max_bytes_is_stored_and_replayed() {
    let store = MemoryStore::builder()
        .max_bytes(64 << 10)
        .shards(8)
        .build()
        .unwrap();
    let lease = claimed(&store, "big", 1).await;
    let body = Bytes::from(vec![7; 40 << 10]);
    let big = Record::new(200, vec![], body.clone());
    assert_eq!(
        store.complete(lease, big.clone(), DAY).await.unwrap(),
        Commit::Done
    );
    tokio::time::sleep(PAST_LOCK_TTL * 10).await;
    assert_eq!(
        store.claim("big", &fp(1), LOCK_TTL).await.unwrap(),
        Claim::Completed(big)
    );
}

#[tokio::test(start_paused = true)]
async fn new_keys_are_refused_when_the_bytes_are_taken() {
    let one = entry_cost(4).await;
    let store = small(10, 2 * one + one / 2);
    claimed(&store, "1234", 1).await;
    claimed(&store, "5678", 1).await;
    let err = store.claim("9abc", &fp(1), LOCK_TTL).await.unwrap_err();
    assert_unavailable(&err);
    assert_eq!(
        err.field("limit").map(ToString::to_string).as_deref(),
        Some("bytes")
    );
    assert_eq!(store.bytes(), 2 * one);
}

#[tokio::test(start_paused = true)]
async fn bytes_count_keys_records_and_bookkeeping_and_are_given_back() {
    let store = small(10, 1 << 20);
    let lease = claimed(&store, "key", 1).await;
    let in_flight = store.bytes();
    // The key, and the map slot and queue places that hold it.
    assert!(in_flight > 3 + 200, "{in_flight}");
    let stored = record(b"body");
    let size = stored.size();
    let _ = store.complete(lease, stored, LOCK_TTL).await.unwrap();
    let completed = store.bytes();
    assert!(completed >= in_flight + size, "{completed}");
    let lease = claimed(&store, "other", 1).await;
    let _ = store.release(lease).await.unwrap();
    assert_eq!(store.bytes(), completed);
    tokio::time::sleep(LOCK_TTL).await;
    assert_eq!(store.purge_expired(), 1);
    assert_eq!((store.len(), store.bytes()), (0, 0));
}

#[tokio::test(start_paused = true)]
async fn a_full_store_evicts_its_oldest_records_past_min_record_age_to_admit_new_keys() {
    let store = MemoryStore::builder()
        .max_entries(2)
        .shards(1)
        .min_record_age(Duration::from_secs(60))
        .build()
        .unwrap();
    let a = claimed(&store, "a", 1).await;
    let _ = store.complete(a, record(b"a"), DAY).await.unwrap();
    tokio::time::sleep(Duration::from_secs(30)).await;
    let b = claimed(&store, "b", 1).await;
    let _ = store.complete(b, record(b"b"), DAY).await.unwrap();

    // Both records are younger than a minute: kept, and the refusal says when one may go.
    let err = store.claim("c", &fp(1), LOCK_TTL).await.unwrap_err();
    assert_unavailable(&err);
    assert_eq!(err.retry_after(), Some(Duration::from_secs(30)));

    // A minute on, "a" (the oldest) makes room; "b" stays.
    tokio::time::sleep(Duration::from_secs(30)).await;
    claimed(&store, "c", 1).await;
    assert_eq!(
        store.claim("b", &fp(1), LOCK_TTL).await.unwrap(),
        Claim::Completed(record(b"b"))
    );
    assert!(matches!(
        store.claim("a", &fp(1), LOCK_TTL).await,
        Err(_) | Ok(Claim::Claimed(_))
    ));
}

/// A full store's refusal hints when room may appear (a lease expiring, a record reaching
/// `min_record_age`), never the records' whole TTL.
#[tokio::test(start_paused = true)]
async fn a_refusal_hints_when_room_may_appear_not_the_record_ttl() {
    let store = small(1, 1 << 20);
    let a = claimed(&store, "a", 1).await;
    let _ = store.complete(a, record(b"a"), DAY).await.unwrap();
    let err = store.claim("b", &fp(1), LOCK_TTL).await.unwrap_err();
    assert_eq!(err.retry_after(), Some(Duration::from_secs(300)));
}

#[tokio::test(start_paused = true)]
async fn one_scope_cannot_hold_more_than_its_quota_and_lock_others_out() {
    let store = MemoryStore::builder()
        .max_entries(100)
        .max_entries_per_scope(10)
        .shards(4)
        .build()
        .unwrap();
    let mut alice = Vec::new();
    for i in 0..10 {
        alice.push(claimed(&store, &format!("alice:{i}"), 1).await);
    }
    let err = store.claim("alice:10", &fp(1), LOCK_TTL).await.unwrap_err();
    assert_unavailable(&err);
    assert_eq!(
        err.field("limit").map(ToString::to_string).as_deref(),
        Some("scope")
    );
    // Others are not affected.
    for i in 0..10 {
        claimed(&store, &format!("bob:{i}"), 1).await;
    }
    // A key alice gives back is hers to use again.
    let lease = alice.pop().unwrap();
    let _ = store.release(lease).await.unwrap();
    claimed(&store, "alice:10", 1).await;
    // Entries that expire leave the quota once removed (lazily, or by `purge_expired`).
    tokio::time::sleep(PAST_LOCK_TTL).await;
    store.purge_expired();
    for i in 11..21 {
        claimed(&store, &format!("alice:{i}"), 1).await;
    }
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
