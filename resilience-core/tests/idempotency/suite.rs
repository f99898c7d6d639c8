//! Behaviour every store shares, written once and instantiated per store with
//! [`store_suite!`].
//!
//! Time-dependent tests sleep on tokio's clock: the memory store runs them under paused time
//! (the sleep is instant and exact), Redis in real time with short TTLs.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use resilience_core::idempotency::{Claim, Commit, Fingerprint, IdempotencyStore, Lease, Record};
use resilience_core::{ErrorKind, Primitive};

/// The lock TTL of the time-dependent tests.
pub(crate) const LOCK_TTL: Duration = Duration::from_millis(200);
/// Sleeping this long lets a `LOCK_TTL` lapse, with room for Redis's clock.
pub(crate) const PAST_LOCK_TTL: Duration = Duration::from_millis(300);
pub(crate) const DAY: Duration = Duration::from_secs(86_400);

pub(crate) fn fp(seed: u8) -> Fingerprint {
    Fingerprint::from_bytes([seed; 32])
}

pub(crate) fn record(body: &'static [u8]) -> Record {
    Record::new(
        201,
        vec![
            (
                "content-type".into(),
                Bytes::from_static(b"application/json"),
            ),
            ("location".into(), Bytes::from_static(b"/charges/1")),
        ],
        Bytes::from_static(body),
    )
}

pub(crate) async fn claimed(store: &impl IdempotencyStore, key: &str, f: u8) -> Lease {
    match store.claim(key, &fp(f), LOCK_TTL).await.unwrap() {
        Claim::Claimed(lease) => lease,
        other => panic!("expected {key:?} to be claimed, got {other:?}"),
    }
}

pub(crate) async fn fresh_key_is_claimed_and_duplicates_see_it_in_flight(
    store: impl IdempotencyStore,
) {
    let lease = claimed(&store, "k", 1).await;
    assert_eq!(lease.key(), "k");
    assert_eq!(lease.fingerprint(), &fp(1));
    match store.claim("k", &fp(1), LOCK_TTL).await.unwrap() {
        Claim::InFlight { lease_expires_in } => {
            let left = lease_expires_in.expect("both stores know when a lease expires");
            assert!(left > Duration::ZERO && left <= LOCK_TTL, "{left:?}");
        }
        other => panic!("expected InFlight, got {other:?}"),
    }
}

pub(crate) async fn completed_key_replays_its_record_byte_for_byte(store: impl IdempotencyStore) {
    let body: Vec<u8> = (0..=255).chain((0..=255).rev()).collect();
    let original = Record::new(
        200,
        vec![
            (
                "content-type".into(),
                Bytes::from_static(b"application/octet-stream"),
            ),
            ("x-empty".into(), Bytes::new()),
            ("x-binary".into(), Bytes::from_static(b"\x00\xff\r\n")),
        ],
        Bytes::from(body),
    );
    let lease = claimed(&store, "k", 1).await;
    assert_eq!(
        store.complete(lease, original.clone(), DAY).await.unwrap(),
        Commit::Done
    );
    for _ in 0..2 {
        match store.claim("k", &fp(1), LOCK_TTL).await.unwrap() {
            Claim::Completed(replayed) => assert_eq!(replayed, original),
            other => panic!("expected Completed, got {other:?}"),
        }
    }
    let empty = Record::new(204, vec![], Bytes::new());
    let lease = claimed(&store, "empty", 1).await;
    assert_eq!(
        store.complete(lease, empty.clone(), DAY).await.unwrap(),
        Commit::Done
    );
    assert_eq!(
        store.claim("empty", &fp(1), LOCK_TTL).await.unwrap(),
        Claim::Completed(empty)
    );
}

pub(crate) async fn other_fingerprint_is_a_mismatch_in_flight_and_completed(
    store: impl IdempotencyStore,
) {
    let lease = claimed(&store, "k", 1).await;
    assert_eq!(
        store.claim("k", &fp(2), LOCK_TTL).await.unwrap(),
        Claim::Mismatch
    );
    assert_eq!(
        store.complete(lease, record(b"ok"), DAY).await.unwrap(),
        Commit::Done
    );
    assert_eq!(
        store.claim("k", &fp(2), LOCK_TTL).await.unwrap(),
        Claim::Mismatch
    );
    // The mismatch changed nothing for the original request.
    assert_eq!(
        store.claim("k", &fp(1), LOCK_TTL).await.unwrap(),
        Claim::Completed(record(b"ok"))
    );
}

pub(crate) async fn release_frees_the_key_for_the_next_claim(store: impl IdempotencyStore) {
    let lease = claimed(&store, "k", 1).await;
    assert_eq!(store.release(lease).await.unwrap(), Commit::Done);
    // Even with another fingerprint: nothing of the released request remains.
    let lease = claimed(&store, "k", 2).await;
    assert_eq!(
        store.complete(lease, record(b"second"), DAY).await.unwrap(),
        Commit::Done
    );
    assert_eq!(
        store.claim("k", &fp(2), LOCK_TTL).await.unwrap(),
        Claim::Completed(record(b"second"))
    );
}

pub(crate) async fn a_lease_commits_once(store: impl IdempotencyStore) {
    let lease = claimed(&store, "k", 1).await;
    assert_eq!(
        store
            .complete(lease.clone(), record(b"one"), DAY)
            .await
            .unwrap(),
        Commit::Done
    );
    assert_eq!(
        store
            .complete(lease.clone(), record(b"two"), DAY)
            .await
            .unwrap(),
        Commit::Stale
    );
    assert_eq!(store.release(lease).await.unwrap(), Commit::Stale);
    assert_eq!(
        store.claim("k", &fp(1), LOCK_TTL).await.unwrap(),
        Claim::Completed(record(b"one"))
    );

    let lease = claimed(&store, "r", 1).await;
    assert_eq!(store.release(lease.clone()).await.unwrap(), Commit::Done);
    assert_eq!(store.release(lease.clone()).await.unwrap(), Commit::Stale);
    assert_eq!(
        store.complete(lease, record(b"late"), DAY).await.unwrap(),
        Commit::Stale
    );
    assert!(matches!(
        store.claim("r", &fp(1), LOCK_TTL).await.unwrap(),
        Claim::Claimed(_)
    ));
}

pub(crate) async fn exactly_one_of_many_concurrent_claims_wins<S>(store: S)
where
    S: IdempotencyStore + 'static,
{
    const TASKS: usize = 200;
    let store = Arc::new(store);
    let start = Arc::new(tokio::sync::Barrier::new(TASKS));
    let tasks: Vec<_> = (0..TASKS)
        .map(|_| {
            let (store, start) = (Arc::clone(&store), Arc::clone(&start));
            tokio::spawn(async move {
                start.wait().await;
                store.claim("hot", &fp(1), DAY).await.unwrap()
            })
        })
        .collect();
    let mut winners = Vec::new();
    for task in tasks {
        match task.await.unwrap() {
            Claim::Claimed(lease) => winners.push(lease),
            Claim::InFlight { .. } => {}
            other => panic!("a concurrent duplicate got {other:?}"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one claim must win");
    let lease = winners.pop().unwrap();
    assert_eq!(
        store.complete(lease, record(b"once"), DAY).await.unwrap(),
        Commit::Done
    );

    // And once completed, every concurrent duplicate replays.
    let tasks: Vec<_> = (0..TASKS)
        .map(|_| {
            let store = Arc::clone(&store);
            tokio::spawn(async move { store.claim("hot", &fp(1), DAY).await.unwrap() })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap(), Claim::Completed(record(b"once")));
    }
}

pub(crate) async fn abandoned_lease_is_reclaimable_after_the_lock_ttl_and_its_late_complete_is_stale(
    store: impl IdempotencyStore,
) {
    let stale = claimed(&store, "k", 1).await;
    // The worker holding `stale` vanishes; its lease lapses.
    tokio::time::sleep(PAST_LOCK_TTL).await;
    let fresh = claimed(&store, "k", 1).await;
    assert_ne!(
        fresh.token(),
        stale.token(),
        "a new claim gets a new fencing token"
    );
    // The stale worker wakes up and tries to write: refused, nothing overwritten.
    assert_eq!(
        store
            .complete(stale.clone(), record(b"stale"), DAY)
            .await
            .unwrap(),
        Commit::Stale
    );
    assert_eq!(store.release(stale).await.unwrap(), Commit::Stale);
    assert!(matches!(
        store.claim("k", &fp(1), LOCK_TTL).await.unwrap(),
        Claim::InFlight { .. }
    ));
    assert_eq!(
        store.complete(fresh, record(b"fresh"), DAY).await.unwrap(),
        Commit::Done
    );
    assert_eq!(
        store.claim("k", &fp(1), LOCK_TTL).await.unwrap(),
        Claim::Completed(record(b"fresh"))
    );
}

pub(crate) async fn expired_lease_commits_nothing_even_when_unclaimed(
    store: impl IdempotencyStore,
) {
    let lease = claimed(&store, "k", 1).await;
    tokio::time::sleep(PAST_LOCK_TTL).await;
    assert_eq!(
        store.complete(lease, record(b"late"), DAY).await.unwrap(),
        Commit::Stale
    );
    // The late record was not stored: the key is free.
    assert!(matches!(
        store.claim("k", &fp(2), LOCK_TTL).await.unwrap(),
        Claim::Claimed(_)
    ));
}

pub(crate) async fn completed_record_expires_after_its_ttl(store: impl IdempotencyStore) {
    let lease = claimed(&store, "k", 1).await;
    assert_eq!(
        store
            .complete(lease, record(b"ok"), LOCK_TTL)
            .await
            .unwrap(),
        Commit::Done
    );
    assert_eq!(
        store.claim("k", &fp(1), LOCK_TTL).await.unwrap(),
        Claim::Completed(record(b"ok"))
    );
    tokio::time::sleep(PAST_LOCK_TTL).await;
    assert!(matches!(
        store.claim("k", &fp(2), LOCK_TTL).await.unwrap(),
        Claim::Claimed(_)
    ));
}

/// Keys that a naive store might confuse: empty, whitespace, control characters, Unicode,
/// glob and hash-tag characters, and one that looks like another with a separator.
pub(crate) const ODD_KEYS: &[&str] = &[
    "", " ", "a b", "a\nb", "\0", "\0\0", "ключ", "🔑", "*", "{tag}", "a:b", "a", ":b", "\\", "'\"",
];

pub(crate) async fn keys_with_arbitrary_characters_are_kept_apart(store: impl IdempotencyStore) {
    for (i, key) in ODD_KEYS.iter().enumerate() {
        let lease = claimed(&store, key, i as u8).await;
        assert_eq!(lease.key(), *key);
        let body = Bytes::from(key.as_bytes().to_vec());
        let commit = store
            .complete(lease, Record::new(200, vec![], body), DAY)
            .await
            .unwrap();
        assert_eq!(commit, Commit::Done);
    }
    for (i, key) in ODD_KEYS.iter().enumerate() {
        match store.claim(key, &fp(i as u8), LOCK_TTL).await.unwrap() {
            Claim::Completed(record) => assert_eq!(record.body(), key.as_bytes(), "{key:?}"),
            other => panic!("{key:?}: expected its own record, got {other:?}"),
        }
    }
}

/// Asserts the shape of a store error: kind, primitive, and a source or detail saying why.
pub(crate) fn assert_unavailable(err: &resilience_core::Error) {
    assert_eq!(err.kind(), ErrorKind::StoreUnavailable, "{err:#}");
    assert_eq!(err.primitive(), Some(Primitive::Idempotency), "{err:#}");
    assert!(err.is_rejection());
}

/// Instantiates the suite for one store: `$make` is an `async fn() -> Option<Store>`
/// (`None` skips), `$timed` the test attribute of the time-dependent tests.
macro_rules! store_suite {
    ($make:path, #[$timed:meta]) => {
        use $crate::suite;

        #[tokio::test]
        async fn fresh_key_is_claimed_and_duplicates_see_it_in_flight() {
            let Some(store) = $make().await else { return };
            suite::fresh_key_is_claimed_and_duplicates_see_it_in_flight(store).await;
        }

        #[tokio::test]
        async fn completed_key_replays_its_record_byte_for_byte() {
            let Some(store) = $make().await else { return };
            suite::completed_key_replays_its_record_byte_for_byte(store).await;
        }

        #[tokio::test]
        async fn other_fingerprint_is_a_mismatch_in_flight_and_completed() {
            let Some(store) = $make().await else { return };
            suite::other_fingerprint_is_a_mismatch_in_flight_and_completed(store).await;
        }

        #[tokio::test]
        async fn release_frees_the_key_for_the_next_claim() {
            let Some(store) = $make().await else { return };
            suite::release_frees_the_key_for_the_next_claim(store).await;
        }

        #[tokio::test]
        async fn a_lease_commits_once() {
            let Some(store) = $make().await else { return };
            suite::a_lease_commits_once(store).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn exactly_one_of_many_concurrent_claims_wins() {
            let Some(store) = $make().await else { return };
            suite::exactly_one_of_many_concurrent_claims_wins(store).await;
        }

        #[$timed]
        async fn abandoned_lease_is_reclaimable_after_the_lock_ttl_and_its_late_complete_is_stale() {
            let Some(store) = $make().await else { return };
            suite::abandoned_lease_is_reclaimable_after_the_lock_ttl_and_its_late_complete_is_stale(store).await;
        }

        #[$timed]
        async fn expired_lease_commits_nothing_even_when_unclaimed() {
            let Some(store) = $make().await else { return };
            suite::expired_lease_commits_nothing_even_when_unclaimed(store).await;
        }

        #[$timed]
        async fn completed_record_expires_after_its_ttl() {
            let Some(store) = $make().await else { return };
            suite::completed_record_expires_after_its_ttl(store).await;
        }

        #[tokio::test]
        async fn keys_with_arbitrary_characters_are_kept_apart() {
            let Some(store) = $make().await else { return };
            suite::keys_with_arbitrary_characters_are_kept_apart(store).await;
        }
    };
}
