//! `IdempotencyLayer` in a real axum app on 127.0.0.1, over each store.
//!
//! [`suite`] holds the behaviour every store must give; [`store_suite!`] instantiates it
//! for one store. Tests that do not depend on the store live in [`layer`] and
//! [`streamed`] (responses whose body arrives in parts).

mod capacity;
mod layer;
mod streamed;
mod suite;
mod support;
mod timed_out;

/// Instantiates the [`suite`] for a store: `store_suite!(module, make)`, where `make` is
/// an `async fn() -> Option<Arc<S>>` giving a fresh store, or `None` to skip (printing
/// why), and `pass_time` an `async fn(Duration)` that lets at least that much time pass
/// on the store's clock (`tokio::time::advance` for a store on tokio's clock).
/// `record_ttl` is the TTL the expiry test uses.
macro_rules! store_suite {
    ($module:ident, make = $make:path, record_ttl = $ttl:expr, pass_time = $pass:path, paused = $paused:literal) => {
        mod $module {
            use super::suite;

            macro_rules! case {
                ($name:ident) => {
                    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                    async fn $name() {
                        if let Some(store) = $make().await {
                            suite::$name(store).await;
                        }
                    }
                };
            }

            case!(concurrent_duplicates_run_the_handler_once);
            case!(instances_sharing_a_store_replay_each_other);
            case!(same_key_with_a_different_request_is_422);
            case!(server_errors_are_not_stored);
            case!(scopes_keep_principals_apart);
            case!(oversized_responses_pass_through_unstored);
            case!(unprotected_methods_pass_through);
            case!(malformed_keys_are_400);
            case!(missing_keys_are_400_only_when_required);
            case!(oversized_requests_are_413_and_not_run);

            #[tokio::test(start_paused = $paused)]
            async fn records_expire_after_the_record_ttl() {
                if let Some(store) = $make().await {
                    suite::records_expire_after_the_record_ttl_paused(store, $ttl, $pass).await;
                }
            }
        }
    };
}

mod memory_store {
    use std::sync::Arc;
    use std::time::Duration;

    use resilience_core::idempotency::MemoryStore;

    pub(crate) async fn make() -> Option<Arc<MemoryStore>> {
        Some(Arc::new(MemoryStore::new()))
    }

    pub(crate) async fn advance(by: Duration) {
        tokio::time::advance(by + Duration::from_millis(1)).await;
    }
}

store_suite!(
    memory,
    make = crate::memory_store::make,
    record_ttl = std::time::Duration::from_secs(24 * 60 * 60),
    pass_time = crate::memory_store::advance,
    paused = true
);

/// The same suite over a real Redis (feature `redis`): each test gets its own key prefix,
/// so tests sharing one server never see each other's keys. Skips, saying why, when
/// `RESILIENCE_REDIS_URL` is unset (CI sets it and requires Redis).
#[cfg(feature = "redis")]
mod redis_store {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    use resilience_core::idempotency::RedisStore;
    use resilience_test_support::redis::redis_url_or_skip;

    pub(crate) async fn make() -> Option<Arc<RedisStore>> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let url = redis_url_or_skip("idempotency layer over RedisStore")?;
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let prefix = format!(
            "test:layer:{}:{nanos}:{}:",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let store = RedisStore::builder(url)
            .prefix(prefix)
            .timeout(Duration::from_secs(5))
            .build()
            .expect("valid Redis store config");
        Some(Arc::new(store))
    }

    /// Redis keeps its own (real) clock: let the TTL pass for real.
    pub(crate) async fn sleep(by: Duration) {
        tokio::time::sleep(by + Duration::from_millis(50)).await;
    }
}

#[cfg(feature = "redis")]
store_suite!(
    redis,
    make = crate::redis_store::make,
    record_ttl = std::time::Duration::from_millis(300),
    pass_time = crate::redis_store::sleep,
    paused = false
);
