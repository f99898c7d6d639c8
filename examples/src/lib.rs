//! Runnable examples for the `resilience` workspace.
//!
//! The binaries live in `src/bin/`; the chaos demo's machinery is this library's
//! [`chaos`] module, so that a test can run the demo in-process on a short script; the
//! OpenTelemetry example's pipeline and calls are [`otel`], shared with its test.

pub mod chaos;
pub mod otel;

/// The caller, as an idempotency scope: its `Authorization` header (the layer hashes it;
/// it is never stored as it is). A real service would use the principal its auth layer
/// put in the request extensions.
pub fn caller(request: &http::request::Parts) -> Option<Vec<u8>> {
    request
        .headers
        .get(http::header::AUTHORIZATION)
        .map(|value| value.as_bytes().to_vec())
}
