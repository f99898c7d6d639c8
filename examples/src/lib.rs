//! Runnable examples for the `resilience` workspace.
//!
//! The binaries live in `src/bin/`; the chaos demo's machinery is this library's
//! [`chaos`] module, so that a test can run the demo in-process on a short script; the
//! OpenTelemetry example's pipeline and calls are [`otel`], shared with its test.

pub mod chaos;
pub mod otel;

/// A key prefix of this run's own (process id and start time), so that runs against a
/// long-lived Redis never share keys.
pub fn run_prefix(example: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_nanos());
    format!("{example}:{}:{nanos}:", std::process::id())
}

/// The Redis the examples that need one use: `RESILIENCE_REDIS_URL` (what `.ci/run` and
/// the workspace's Redis tests read), else `REDIS_URL`; `None` when neither is set.
///
/// ```
/// // Set by `.ci/run`; in a shell, `REDIS_URL=redis://127.0.0.1:6379/` also works.
/// if let Some(url) = resilience_examples::redis_url() {
///     assert!(url.starts_with("redis"));
/// }
/// ```
pub fn redis_url() -> Option<String> {
    ["RESILIENCE_REDIS_URL", "REDIS_URL"]
        .into_iter()
        .find_map(|name| std::env::var(name).ok().filter(|url| !url.is_empty()))
}

/// The caller, as an idempotency scope: its `Authorization` header (the layer hashes it;
/// it is never stored as it is). A real service would use the principal its auth layer
/// put in the request extensions.
pub fn caller(request: &http::request::Parts) -> Option<Vec<u8>> {
    request
        .headers
        .get(http::header::AUTHORIZATION)
        .map(|value| value.as_bytes().to_vec())
}
