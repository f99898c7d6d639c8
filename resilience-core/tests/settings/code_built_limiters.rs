//! Keyed and Redis rate limiters: a document does not create them (code does, from
//! [`Settings::keyed_rate_limiter`] and `Settings::redis_rate_limiter`), but each of
//! their keys changes behaviour after load and after a reload that reconfigures them.

use std::time::Duration;

use resilience_core::rate_limit::{KeyedRateLimiter, MAX_KEYS};
use resilience_core::settings::Settings;
use tokio::time::advance;

use crate::toml;

fn keyed(settings: &Settings) -> KeyedRateLimiter<String> {
    settings
        .keyed_rate_limiter("per_ip")
        .unwrap()
        .build()
        .unwrap()
}

fn reconfigure(limiter: &KeyedRateLimiter<String>, text: &str) {
    let settings = toml(text).unwrap();
    limiter
        .reconfigure(settings.keyed_rate_limiter("per_ip").unwrap())
        .unwrap();
}

/// Units `key` is granted at once.
fn granted(l: &KeyedRateLimiter<String>, key: &str) -> usize {
    let mut n = 0;
    while l.try_acquire(key).is_ok() {
        n += 1;
        assert!(n <= 100_000);
    }
    n
}

#[tokio::test(start_paused = true)]
async fn keyed_rate_sets_the_sustained_rate_per_key_after_load_and_reload() {
    let l = keyed(&toml("[keyed_rate_limiter.per_ip]\nrate = 4.0\nburst = 1\n").unwrap());
    assert_eq!(l.name(), "per_ip");
    granted(&l, "a");
    advance(Duration::from_millis(250)).await;
    assert_eq!(granted(&l, "a"), 1, "4 per second");
    reconfigure(&l, "[keyed_rate_limiter.per_ip]\nrate = 2.0\nburst = 1\n");
    advance(Duration::from_millis(250)).await;
    assert_eq!(granted(&l, "a"), 1, "the unit granted before came due");
    advance(Duration::from_millis(250)).await;
    assert_eq!(granted(&l, "a"), 0, "2 per second");
    advance(Duration::from_millis(250)).await;
    assert_eq!(granted(&l, "a"), 1);
}

#[tokio::test(start_paused = true)]
async fn keyed_burst_sets_what_a_new_key_gets_at_once_after_load_and_reload() {
    let l = keyed(&toml("[keyed_rate_limiter.per_ip]\nrate = 1.0\nburst = 3\n").unwrap());
    assert_eq!(granted(&l, "a"), 3);
    reconfigure(&l, "[keyed_rate_limiter.per_ip]\nrate = 1.0\nburst = 5\n");
    assert_eq!(granted(&l, "b"), 5);
}

#[tokio::test(start_paused = true)]
async fn keyed_max_wait_lets_a_caller_wait_its_turn_after_load_and_reload() {
    let doc = |wait: &str| {
        format!("[keyed_rate_limiter.per_ip]\nrate = 1.0\nburst = 1\nmax_wait = \"{wait}\"\n")
    };
    let l = keyed(&toml(&doc("0s")).unwrap());
    l.try_acquire("a").unwrap();
    assert!(l.acquire("a").await.is_err(), "no waiting");
    reconfigure(&l, &doc("2s"));
    let start = tokio::time::Instant::now();
    l.acquire("a").await.unwrap();
    assert_eq!(start.elapsed(), Duration::from_secs(1), "waited its turn");
}

#[tokio::test(start_paused = true)]
async fn keyed_max_keys_bounds_the_table_after_load_and_reload() {
    let doc = |n: usize| format!("[keyed_rate_limiter.per_ip]\nrate = 1.0\nmax_keys = {n}\n");
    let l = keyed(&toml(&doc(128)).unwrap());
    for i in 0..1000 {
        l.try_acquire(&i.to_string()).unwrap();
    }
    assert!(l.len() <= 128);
    assert_eq!(l.max_keys(), 128);
    reconfigure(&l, &doc(64));
    assert!(l.len() <= 64, "a lower bound holds at once: {}", l.len());
    for i in 1000..2000 {
        l.try_acquire(&i.to_string()).unwrap();
    }
    assert!(l.len() <= 64);
}

#[test]
fn keyed_settings_are_validated_with_the_document_and_when_read() {
    let text = "[bulkhead.other]\n[keyed_rate_limiter.per_ip]\nrate = 1.0\nmax_keys = 0\n";
    let settings = toml(text).unwrap();
    let err = settings.validate().unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("keyed_rate_limiter.per_ip.max_keys: must be between 1 and {MAX_KEYS}, got 0")
    );
    let registry = resilience_core::Registry::new();
    assert!(registry.apply(&settings).is_err());
    assert!(registry.get_bulkhead("other").is_none(), "nothing applied");
    let err = settings.keyed_rate_limiter::<String>("per_ip").unwrap_err();
    assert_eq!(err.path(), "keyed_rate_limiter.per_ip.max_keys");
    let err = settings
        .keyed_rate_limiter::<String>("nowhere")
        .unwrap_err();
    assert_eq!(err.path(), "keyed_rate_limiter.nowhere");
    // An invalid reload leaves the limiter as it was.
    let l = keyed(&toml("[keyed_rate_limiter.per_ip]\nrate = 1.0\n").unwrap());
    let bad = toml("[keyed_rate_limiter.per_ip]\nrate = nan\n").unwrap();
    let err = bad.keyed_rate_limiter::<String>("per_ip").unwrap_err();
    assert_eq!(err.path(), "keyed_rate_limiter.per_ip.rate");
    assert_eq!(l.quota().rate(), 1.0);
    // Defaults and environment overrides apply as to every kind.
    let settings = toml("[keyed_rate_limiter.defaults]\nrate = 3.0\n[keyed_rate_limiter.per_ip]\n")
        .unwrap()
        .with_overrides([("RESILIENCE__KEYED_RATE_LIMITER__PER_IP__BURST", "7")])
        .unwrap();
    let l = keyed(&settings);
    assert!(
        (l.quota().rate() - 3.0).abs() < 1e-6,
        "{}",
        l.quota().rate()
    );
    assert_eq!(l.quota().burst(), 7);
}

#[cfg(feature = "redis")]
mod redis {
    use std::time::Duration;

    use resilience_core::ErrorKind;
    use resilience_core::rate_limit::{RedisRateLimiter, RedisRateLimiterBuilder};
    use resilience_core::settings::Settings;
    use resilience_test_support::redis::{fake_redis, redis_url_or_skip};

    use crate::toml;

    fn base(url: &str, prefix: &str) -> RedisRateLimiterBuilder {
        RedisRateLimiter::builder(url).prefix(prefix)
    }

    fn redis(settings: &Settings, url: &str, prefix: &str) -> RedisRateLimiter {
        settings
            .redis_rate_limiter("api", base(url, prefix))
            .unwrap()
            .build()
            .unwrap()
    }

    fn reconfigure(limiter: &RedisRateLimiter, url: &str, prefix: &str, text: &str) {
        let settings = toml(text).unwrap();
        limiter
            .reconfigure(
                settings
                    .redis_rate_limiter("api", base(url, prefix))
                    .unwrap(),
            )
            .unwrap();
    }

    fn unique_prefix() -> String {
        format!("resilience-test:settings:{:016x}:", rand::random::<u64>())
    }

    /// Units `key` is granted at once.
    async fn granted(l: &RedisRateLimiter, key: &str) -> usize {
        let mut n = 0;
        while l.try_acquire(key).await.is_ok() {
            n += 1;
            assert!(n <= 1000);
        }
        n
    }

    #[tokio::test]
    async fn redis_rate_and_burst_change_after_load_and_reload() {
        let Some(url) = redis_url_or_skip("redis_rate_and_burst_change_after_load_and_reload")
        else {
            return;
        };
        let prefix = unique_prefix();
        let doc = |burst: u32| {
            format!("[redis_rate_limiter.api]\nrate = 0.001\nburst = {burst}\ntimeout = \"5s\"\n")
        };
        let l = redis(&toml(&doc(3)).unwrap(), &url, &prefix);
        assert_eq!(granted(&l, "a").await, 3);
        reconfigure(&l, &url, &prefix, &doc(5));
        assert_eq!(l.quota().burst(), 5);
        assert_eq!(granted(&l, "b").await, 5, "a new key gets the new burst");
        assert_eq!(l.quota().rate(), 0.001);
        reconfigure(
            &l,
            &url,
            &prefix,
            "[redis_rate_limiter.api]\nrate = 1000.0\nburst = 1\ntimeout = \"5s\"\n",
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(l.try_acquire("c").await.is_ok());
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(
            l.try_acquire("c").await.is_ok(),
            "1000 per second: a unit back within 20 ms"
        );
    }

    #[tokio::test]
    async fn redis_max_wait_lets_a_caller_wait_after_load_and_reload() {
        let Some(url) =
            redis_url_or_skip("redis_max_wait_lets_a_caller_wait_after_load_and_reload")
        else {
            return;
        };
        let prefix = unique_prefix();
        let doc = |wait: &str| {
            format!(
                "[redis_rate_limiter.api]\nrate = 20.0\nburst = 1\ntimeout = \"5s\"\nmax_wait = \"{wait}\"\n"
            )
        };
        let l = redis(&toml(&doc("0s")).unwrap(), &url, &prefix);
        l.try_acquire("a").await.unwrap();
        assert_eq!(
            l.acquire("a").await.unwrap_err().kind(),
            ErrorKind::RateLimited
        );
        reconfigure(&l, &url, &prefix, &doc("1s"));
        assert!(l.acquire("a").await.is_ok(), "waits its 50 ms turn");
    }

    /// A port nothing listens on.
    fn down() -> String {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        format!("redis://127.0.0.1:{port}/")
    }

    #[tokio::test]
    async fn on_store_failure_decides_a_call_redis_cannot_answer_after_load_and_reload() {
        let url = down();
        let doc = |policy: &str| {
            format!("[redis_rate_limiter.api]\nrate = 1.0\non_store_failure = \"{policy}\"\n")
        };
        let l = redis(&toml(&doc("fail_open")).unwrap(), &url, "p:");
        assert!(!l.try_acquire("a").await.unwrap().is_checked());
        reconfigure(&l, &url, "p:", &doc("fail_closed"));
        assert_eq!(
            l.try_acquire("a").await.unwrap_err().kind(),
            ErrorKind::StoreUnavailable
        );
        reconfigure(&l, &url, "p:", &doc("fail_open"));
        assert!(l.try_acquire("a").await.is_ok());
    }

    #[tokio::test]
    async fn timeout_bounds_a_check_against_a_hung_redis_after_load_and_reload() {
        let (url, server) = fake_redis(None).await; // never answers
        let doc = |timeout: &str| {
            format!(
                "[redis_rate_limiter.api]\nrate = 1.0\ntimeout = \"{timeout}\"\non_store_failure = \"fail_closed\"\n"
            )
        };
        let l = redis(&toml(&doc("100ms")).unwrap(), &url, "p:");
        assert_eq!(l.timeout(), Duration::from_millis(100));
        // Bounded by the timeout: the outer bound only keeps a broken one from hanging.
        let check = tokio::time::timeout(Duration::from_millis(1500), l.try_acquire("a"));
        assert!(check.await.expect("ends within the timeout").is_err());
        reconfigure(&l, &url, "p:", &doc("3s"));
        assert_eq!(l.timeout(), Duration::from_secs(3));
        let check = tokio::time::timeout(Duration::from_millis(1500), l.try_acquire("a"));
        assert!(check.await.is_err(), "a 3s timeout outlasts 1.5s");
        server.abort();
    }

    #[test]
    fn redis_settings_are_validated_and_identity_cannot_change() {
        let settings = toml("[redis_rate_limiter.api]\nrate = 1.0\ntimeout = \"0s\"\n").unwrap();
        assert_eq!(
            settings.validate().unwrap_err().to_string(),
            "redis_rate_limiter.api.timeout: must be longer than zero"
        );
        let err = settings
            .redis_rate_limiter("api", base("redis://127.0.0.1:1/", "p:"))
            .unwrap_err();
        assert_eq!(err.path(), "redis_rate_limiter.api.timeout");
        let err = toml("[redis_rate_limiter.api]\non_store_failure = \"open\"\n").unwrap_err();
        assert_eq!(err.path(), "redis_rate_limiter.api.on_store_failure");
        let good = toml("[redis_rate_limiter.api]\nrate = 1.0\n").unwrap();
        let l = redis(&good, "redis://127.0.0.1:1/", "p:");
        let other_url = good
            .redis_rate_limiter("api", base("redis://127.0.0.1:2/", "p:"))
            .unwrap();
        assert_eq!(l.reconfigure(other_url).unwrap_err().option(), "url");
        let other_prefix = good
            .redis_rate_limiter("api", base("redis://127.0.0.1:1/", "q:"))
            .unwrap();
        assert_eq!(l.reconfigure(other_prefix).unwrap_err().option(), "prefix");
    }
}
