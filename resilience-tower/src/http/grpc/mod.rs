//! gRPC requests and errors as gRPC statuses.
//!
//! A gRPC client reads the outcome of a call from the `grpc-status` header or trailer, not
//! from the HTTP status (which is 200 for every gRPC response). So for a request whose
//! `content-type` starts with `application/grpc` (gRPC, `application/grpc+proto`,
//! gRPC-Web), [`HttpErrorLayer`](super::HttpErrorLayer) answers an error with
//! [`response`]: a *Trailers-Only* response (HTTP 200, `content-type: application/grpc`,
//! `grpc-status`, `grpc-message`, and `grpc-retry-pushback-ms` when the error has a
//! `retry_after` hint) instead of a problem+json body.
//!
//! ```
//! use http::HeaderMap;
//! use resilience_core::{Error, ErrorKind};
//! use resilience_tower::http::grpc;
//!
//! let mut headers = HeaderMap::new();
//! headers.insert("content-type", "application/grpc+proto".parse().unwrap());
//! assert!(grpc::is_grpc(&headers));
//!
//! let response = grpc::response(&Error::new(ErrorKind::DeadlineExceeded));
//! assert_eq!(response.status(), 200);
//! assert_eq!(response.headers()["grpc-status"], "4");
//! ```
//!
//! # Codes
//!
//! | kind | gRPC status |
//! |---|---|
//! | `DeadlineExceeded`, `Timeout` | 4 `DEADLINE_EXCEEDED` |
//! | `CircuitOpen`, `RetryBudgetExhausted`, `StoreUnavailable`, `ShuttingDown`, `Throttled`, `FaultInjected` | 14 `UNAVAILABLE` |
//! | `BulkheadFull`, `RateLimited`, `PayloadTooLarge` | 8 `RESOURCE_EXHAUSTED` |
//! | `IdempotencyConflict` | 10 `ABORTED` |
//! | `IdempotencyMismatch` | 9 `FAILED_PRECONDITION` |
//! | `InvalidRequest` | 3 `INVALID_ARGUMENT` |
//! | `Inner`, a kind added later | 2 `UNKNOWN` |
//!
//! `UNAVAILABLE` says "this server cannot take the call now, another attempt (here or
//! elsewhere) may work": what gRPC clients retry when a retry policy lists it, matching
//! the 503 these kinds get over HTTP. `RESOURCE_EXHAUSTED` says "a limit of this server
//! was reached": a full bulkhead, a rate limit, an oversized message (what gRPC itself
//! answers for one). Every error with a `retry_after` hint (an open breaker's remaining
//! open time, a rate limiter's next turn, a bulkhead's configured hint) also carries
//! `grpc-retry-pushback-ms`, the *server pushback* of gRPC's retry design: a gRPC client
//! with a retry policy waits that long before its next attempt.
//!
//! # The client side
//!
//! [`GrpcStatus`] classifies gRPC answers for breakers and retries by their `grpc-status`
//! (in the headers of a Trailers-Only answer, or in the trailers that
//! [`ReadTrailersLayer`] makes visible). gRPC calls are all `POST`s, so
//! [`HttpRetryLayer`](crate::retry::HttpRetryLayer) retries them only when opted in:
//!
//! ```
//! use resilience_tower::http::grpc::{self, GrpcStatus};
//! use resilience_tower::retry::{HttpRetryLayer, RetryPolicy};
//!
//! let policy = RetryPolicy::builder().name("inventory").max_attempts(3).build().unwrap();
//! // Every method of this API is idempotent: retry its calls on UNAVAILABLE (the default
//! // retryable codes), honouring the server's pushback.
//! let layer = HttpRetryLayer::new(policy)
//!     .classifier(GrpcStatus::new())
//!     .also_retry_if(|request| grpc::is_grpc(&request.headers));
//! # let _ = layer;
//! ```

mod classify;
pub mod codes;
mod trailers;

pub use classify::GrpcStatus;
pub use trailers::{
    DEFAULT_MAX_MESSAGE, ReadTrailersLayer, ReadTrailersService, ResponseFuture, Trailers,
};

use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::{HeaderMap, HeaderValue, Response};
use http_body_util::Full;
use resilience_core::{Error, ErrorKind};

/// The `content-type` prefix of gRPC (and gRPC-Web) requests.
pub const CONTENT_TYPE_PREFIX: &str = "application/grpc";

/// Whether a request with these headers is a gRPC call: its `content-type` starts with
/// `application/grpc`.
pub fn is_grpc(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .is_some_and(|v| is_grpc_content_type(v.as_bytes()))
}

/// Whether a `content-type` value is gRPC's.
pub(crate) fn is_grpc_content_type(value: &[u8]) -> bool {
    value.starts_with(CONTENT_TYPE_PREFIX.as_bytes())
}

/// The gRPC status code for an error kind (one of [`codes`]); see the
/// [module docs](self).
pub fn code(kind: ErrorKind) -> u8 {
    match kind {
        ErrorKind::DeadlineExceeded | ErrorKind::Timeout => codes::DEADLINE_EXCEEDED,
        ErrorKind::CircuitOpen
        | ErrorKind::RetryBudgetExhausted
        | ErrorKind::StoreUnavailable
        | ErrorKind::ShuttingDown
        | ErrorKind::Throttled
        | ErrorKind::FaultInjected => codes::UNAVAILABLE,
        ErrorKind::BulkheadFull | ErrorKind::PayloadTooLarge | ErrorKind::RateLimited => {
            codes::RESOURCE_EXHAUSTED
        }
        ErrorKind::IdempotencyConflict => codes::ABORTED,
        ErrorKind::IdempotencyMismatch => codes::FAILED_PRECONDITION,
        ErrorKind::InvalidRequest => codes::INVALID_ARGUMENT,
        _ => codes::UNKNOWN,
    }
}

/// The Trailers-Only gRPC response for `err`: HTTP 200, `content-type: application/grpc`,
/// `grpc-status`, `grpc-message` (the error's client-safe [`detail`](Error::detail), else
/// the kind's description, percent-encoded as gRPC requires), `grpc-retry-pushback-ms`
/// when the error has a `retry_after` hint, and an empty body.
pub fn response(err: &Error) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::new()));
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/grpc"));
    headers.insert(
        "grpc-status",
        HeaderValue::from(u16::from(code(err.kind()))),
    );
    let message = err.detail().unwrap_or(err.kind().description());
    if let Ok(value) = HeaderValue::from_str(&percent_encode(message)) {
        headers.insert("grpc-message", value);
    }
    if let Some(hint) = err.retry_after() {
        let millis = u64::try_from(hint.as_millis()).unwrap_or(u64::MAX);
        headers.insert("grpc-retry-pushback-ms", HeaderValue::from(millis));
    }
    response
}

/// Percent-encodes what gRPC's `grpc-message` may not carry as is: bytes outside
/// printable ASCII, and `%`.
fn percent_encode(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    for byte in message.bytes() {
        if (0x20..=0x7e).contains(&byte) && byte != b'%' {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_percent_encoded_outside_printable_ascii() {
        assert_eq!(percent_encode("50% — ok"), "50%25 %E2%80%94 ok");
    }

    #[test]
    fn pushback_carries_the_retry_hint_in_milliseconds() {
        let err = Error::new(ErrorKind::BulkheadFull)
            .with_retry_after(std::time::Duration::from_millis(1500));
        let response = response(&err);
        assert_eq!(response.headers()["grpc-status"], "8");
        assert_eq!(response.headers()["grpc-retry-pushback-ms"], "1500");
        assert!(response.headers()["grpc-message"].to_str().is_ok());
    }
}
