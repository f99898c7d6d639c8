//! Keyed limits: independence, borrowed lookups, bounded memory, and the policy when the
//! table is full.

use std::time::Duration;

use resilience_core::ErrorKind;
use resilience_core::rate_limit::KeyedRateLimiter;

const MS: Duration = Duration::from_millis(1);

/// 10 units a second per key, 10 at once.
fn per_key(max_keys: usize) -> KeyedRateLimiter<String> {
    KeyedRateLimiter::builder()
        .name("per-client")
        .rate(10.0)
        .burst(10)
        .max_keys(max_keys)
        .build()
        .unwrap()
}

#[tokio::test(start_paused = true)]
async fn each_key_has_its_own_limit_and_refusals_name_the_limiter_not_the_key() {
    let limiter = per_key(100);
    limiter.try_acquire_n("alice", 10).unwrap();
    let err = limiter.try_acquire("alice").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::RateLimited);
    assert_eq!(err.retry_after(), Some(100 * MS));
    assert_eq!(err.instance(), Some("per-client"));
    assert!(!format!("{err:#}").contains("alice"), "{err:#}");
    assert_eq!(limiter.try_acquire("bob").unwrap().remaining(), 9);
    assert_eq!(limiter.len(), 2);
}

#[tokio::test(start_paused = true)]
async fn byte_keys_are_looked_up_borrowed() {
    let limiter = KeyedRateLimiter::<Vec<u8>>::builder()
        .rate(1.0)
        .burst(1)
        .build()
        .unwrap();
    let header: &[u8] = b"key-123";
    limiter.try_acquire(header).unwrap();
    assert!(limiter.try_acquire(header).is_err());
    assert!(limiter.try_acquire(&b"key-124"[..]).is_ok());
}

#[tokio::test(start_paused = true)]
async fn memory_stays_bounded_however_many_keys_arrive() {
    let limiter = per_key(64);
    for i in 0..10_000 {
        limiter.try_acquire(&format!("client-{i}")).unwrap();
        assert!(limiter.len() <= 64, "{} keys after {i}", limiter.len());
        if i % 100 == 0 {
            tokio::time::advance(MS).await;
        }
    }
    assert_eq!(limiter.max_keys(), 64);
}

#[tokio::test(start_paused = true)]
async fn a_full_table_never_locks_a_new_client_out_and_keeps_the_most_limited_keys() {
    let limiter = per_key(8);
    // The heavy client spent its whole burst: a second to refill.
    limiter.try_acquire_n("heavy", 10).unwrap();
    // A flood of one-request clients fills the table over and over.
    for i in 0..1_000 {
        let grant = limiter.try_acquire(&format!("flood-{i}"));
        assert!(grant.is_ok(), "flood-{i} was locked out");
        assert!(limiter.len() <= 8);
    }
    // The heavy client is still known to be over its limit: forgetting went to the keys
    // nearest to a full bucket.
    let err = limiter.try_acquire("heavy").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::RateLimited);
    assert!(limiter.try_acquire("newcomer").is_ok());
}

#[tokio::test(start_paused = true)]
async fn a_forgotten_key_gets_at_most_a_fresh_burst() {
    let limiter = per_key(1);
    limiter.try_acquire_n("a", 5).unwrap();
    limiter.try_acquire("b").unwrap(); // forgets "a"
    assert_eq!(limiter.len(), 1);
    let grant = limiter.try_acquire_n("a", 10).unwrap();
    assert_eq!(grant.remaining(), 0);
    assert!(limiter.try_acquire("a").is_err());
}

#[tokio::test(start_paused = true)]
async fn sweep_forgets_keys_whose_bucket_is_full_again() {
    let limiter = per_key(100);
    limiter.try_acquire_n("quiet", 1).unwrap();
    limiter.try_acquire_n("busy", 10).unwrap();
    tokio::time::advance(500 * MS).await;
    assert_eq!(limiter.sweep(), 1, "only the refilled key");
    assert_eq!(limiter.len(), 1);
    // Forgetting an idle key changes nothing: it has its whole burst either way.
    assert_eq!(limiter.try_acquire("quiet").unwrap().remaining(), 9);
    tokio::time::advance(Duration::from_secs(1)).await;
    assert_eq!(limiter.sweep(), 2);
    assert!(limiter.is_empty());
    let snapshot = limiter.snapshot();
    assert_eq!((snapshot.keys, snapshot.max_keys), (0, 100));
}

#[tokio::test(start_paused = true)]
async fn keyed_waiters_wait_for_their_own_keys_turn() {
    let limiter = KeyedRateLimiter::<&'static str>::builder()
        .rate(10.0)
        .burst(1)
        .max_wait(Duration::from_secs(1))
        .build()
        .unwrap();
    limiter.try_acquire(&"a").unwrap();
    let start = tokio::time::Instant::now();
    assert!(
        limiter.try_acquire(&"b").is_ok(),
        "another key is not held up"
    );
    let grant = limiter.acquire(&"a").await.unwrap();
    assert_eq!(start.elapsed(), 100 * MS);
    assert_eq!(grant.waited(), 100 * MS);
}
