//! Tests that need a real Redis read its URL from [`REDIS_URL_VAR`]. On a machine without
//! Redis they are skipped with a printed reason; CI sets [`REQUIRE_REDIS_VAR`]`=1`, which
//! turns a missing URL into a failure, so that a broken CI setup cannot pass by skipping.

/// The variable holding the Redis URL for tests, e.g. `redis://127.0.0.1:6379/`.
pub const REDIS_URL_VAR: &str = "RESILIENCE_REDIS_URL";

/// The variable that, set to `1`, makes a missing [`REDIS_URL_VAR`] fail the test.
pub const REQUIRE_REDIS_VAR: &str = "RESILIENCE_REQUIRE_REDIS";

/// The Redis URL for tests, or `None` (after printing why `test` is skipped) when
/// [`REDIS_URL_VAR`] is not set.
///
/// # Panics
///
/// When [`REDIS_URL_VAR`] is not set and [`REQUIRE_REDIS_VAR`] is `1`: a test that must run
/// against Redis fails instead of passing silently.
#[must_use]
pub fn redis_url_or_skip(test: &str) -> Option<String> {
    match std::env::var(REDIS_URL_VAR) {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var(REQUIRE_REDIS_VAR).as_deref() != Ok("1"),
                "{test}: {REDIS_URL_VAR} is not set but {REQUIRE_REDIS_VAR}=1 requires Redis"
            );
            eprintln!(
                "skipping {test}: set {REDIS_URL_VAR}=redis://127.0.0.1:6379/ to run it against Redis"
            );
            None
        }
    }
}
