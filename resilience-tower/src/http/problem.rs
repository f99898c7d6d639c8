//! Turning an [`Error`] into an HTTP response: status code, `Retry-After`, and an
//! RFC 9457 `application/problem+json` body.
//!
//! ```
//! use std::time::Duration;
//! use http::StatusCode;
//! use resilience_core::{Error, ErrorKind};
//! use resilience_tower::http::ProblemConfig;
//!
//! let config = ProblemConfig::default();
//! let err = Error::new(ErrorKind::CircuitOpen).with_retry_after(Duration::from_millis(1500));
//! let response = config.response(&err);
//! assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
//! assert_eq!(response.headers()["retry-after"], "2");
//! assert_eq!(response.headers()["content-type"], "application/problem+json");
//! ```
//!
//! # Status codes
//!
//! | kind | status |
//! |---|---|
//! | `CircuitOpen`, `BulkheadFull`, `RetryBudgetExhausted`, `StoreUnavailable`, `Throttled`, `ShuttingDown` | 503 Service Unavailable |
//! | `DeadlineExceeded`, `Timeout` | 504 Gateway Timeout |
//! | `IdempotencyConflict` | 409 Conflict |
//! | `IdempotencyMismatch` | 422 Unprocessable Content |
//! | `InvalidRequest` | 400 Bad Request |
//! | `PayloadTooLarge` | 413 Content Too Large |
//! | `RateLimited` | 429 Too Many Requests, with `RateLimit-Policy` and `RateLimit` |
//! | `Inner` | 502 Bad Gateway |
//! | a kind added later | 500 Internal Server Error |
//!
//! [`ProblemConfig::with_status`] changes a row, for example `BulkheadFull` → 429 for
//! a public API whose clients back off on 429. `Retry-After` (whole seconds, rounded up)
//! is sent exactly when the error has a [`retry_after`](Error::retry_after) hint.
//!
//! # What the body reveals
//!
//! The body has `type`, `title`, `status`, `detail`, the error `kind` and, with a hint,
//! `retry_after` in seconds. `detail` is the error's own
//! [`detail`](resilience_core::Error::detail) (a message written for the client, such as
//! "`grpc-timeout` has more than 8 digits"), else a fixed sentence for the kind.
//!
//! It never contains the wrapped error's message, which may carry an upstream's
//! internals (hosts, queries, credentials), unless [`ProblemConfig::expose_sources`] is
//! set, nor the operation name unless [`ProblemConfig::expose_operation`] is set.
//!
//! # `type` and `title`
//!
//! By default `type` is `about:blank` and `title` is the status code's reason phrase, as
//! RFC 9457 §4.2.1 asks when no problem type is defined; clients tell kinds apart by the
//! `kind` member. With [`ProblemConfig::type_base`] set to your API's documentation,
//! `type` becomes that base followed by the kind (`…/problems/circuit_open`) and `title`
//! a short summary of the kind.

use bytes::Bytes;
use http::header::{CONTENT_TYPE, RETRY_AFTER};
use http::{HeaderValue, Response, StatusCode};
use http_body_util::Full;
use resilience_core::{Error, ErrorKind, Name};
use serde::Serialize;

use super::retry_after::{ceil_secs, header_value};

/// The media type of RFC 9457 problem details in JSON.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// How errors become HTTP responses. The default follows the table in the
/// [module docs](self).
#[derive(Clone, Debug, Default)]
pub struct ProblemConfig {
    type_base: Option<Name>,
    expose_sources: bool,
    expose_operation: bool,
    overrides: Vec<(ErrorKind, StatusCode)>,
}

#[derive(Serialize)]
struct Problem<'a> {
    #[serde(rename = "type")]
    type_uri: String,
    title: &'static str,
    status: u16,
    detail: String,
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    retry_after: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    operation: Option<&'a str>,
}

impl ProblemConfig {
    /// The default configuration.
    pub fn new() -> Self {
        Self::default()
    }

    /// Gives each kind its own problem type: `type` becomes `base` followed by the kind
    /// identifier (`https://api.example.com/problems/` gives
    /// `https://api.example.com/problems/circuit_open`). Without it, `type` is
    /// `about:blank`.
    #[must_use]
    pub fn type_base(mut self, base: impl Into<Name>) -> Self {
        self.type_base = Some(base.into());
        self
    }

    /// Include the operation name (`"payments.charge"`) as an `operation` member. Off by
    /// default: it names internal code.
    #[must_use]
    pub fn expose_operation(mut self, expose: bool) -> Self {
        self.expose_operation = expose;
        self
    }

    /// Include the wrapped error's message in `detail`. Off by default: an upstream's
    /// error text can reveal hosts, queries or credentials.
    #[must_use]
    pub fn expose_sources(mut self, expose: bool) -> Self {
        self.expose_sources = expose;
        self
    }

    /// Answer errors of `kind` with `status` instead of the default.
    #[must_use]
    pub fn with_status(mut self, kind: ErrorKind, status: StatusCode) -> Self {
        self.overrides.retain(|(k, _)| *k != kind);
        self.overrides.push((kind, status));
        self
    }

    /// The status code for `err`.
    pub fn status(&self, err: &Error) -> StatusCode {
        let kind = err.kind();
        if let Some((_, status)) = self.overrides.iter().find(|(k, _)| *k == kind) {
            return *status;
        }
        default_status(kind)
    }

    /// The full response for `err`: status, `Content-Type: application/problem+json`,
    /// `Retry-After` when the error has a hint, and the problem body.
    pub fn response(&self, err: &Error) -> Response<Full<Bytes>> {
        self.response_bytes(err).map(Full::new)
    }

    /// [`response`](Self::response) with the body as bytes.
    pub(crate) fn response_bytes(&self, err: &Error) -> Response<Bytes> {
        let status = self.status(err);
        let body = self.body(err, status);
        let mut response = Response::new(Bytes::from(body));
        *response.status_mut() = status;
        let headers = response.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        if let Some(hint) = err.retry_after() {
            headers.insert(RETRY_AFTER, header_value(hint));
        }
        crate::rate_limit::insert_for_error(err, headers);
        response
    }

    /// The problem+json body for `err` answered with `status`.
    pub fn body(&self, err: &Error, status: StatusCode) -> Vec<u8> {
        let kind = err.kind();
        let mut detail = String::from(err.detail().unwrap_or(default_detail(kind)));
        if self.expose_sources {
            if let Some(source) = std::error::Error::source(err) {
                detail = format!("{detail} ({source})");
            }
        }
        let (type_uri, title) = match &self.type_base {
            Some(base) => (format!("{base}{}", kind.as_str()), title(kind)),
            None => (
                String::from("about:blank"),
                status.canonical_reason().unwrap_or("Error"),
            ),
        };
        let problem = Problem {
            type_uri,
            title,
            status: status.as_u16(),
            detail,
            kind: kind.as_str(),
            retry_after: err.retry_after().map(ceil_secs),
            operation: err.operation().filter(|_| self.expose_operation),
        };
        // Serializing a struct of strings and integers cannot fail.
        serde_json::to_vec(&problem).unwrap_or_default()
    }
}

/// Reports `err` (recorded on the current span if it declares the `error.*` fields, and
/// emitted as a `tracing` event), then builds its response: what every place that turns
/// an error into an answer does.
pub(crate) fn report_and_respond(config: &ProblemConfig, err: &Error) -> Response<Bytes> {
    err.record_in_current_span();
    err.emit_event();
    config.response_bytes(err)
}

/// [`report_and_respond`] for a gRPC request: the answer is a gRPC status
/// ([`super::grpc::response`]).
pub(crate) fn report_and_respond_grpc(err: &Error) -> Response<Bytes> {
    err.record_in_current_span();
    err.emit_event();
    super::grpc::response(err).map(|_| Bytes::new())
}

fn default_status(kind: ErrorKind) -> StatusCode {
    match kind {
        ErrorKind::CircuitOpen
        | ErrorKind::BulkheadFull
        | ErrorKind::RetryBudgetExhausted
        | ErrorKind::StoreUnavailable
        | ErrorKind::ShuttingDown
        | ErrorKind::Throttled => StatusCode::SERVICE_UNAVAILABLE,
        ErrorKind::DeadlineExceeded | ErrorKind::Timeout => StatusCode::GATEWAY_TIMEOUT,
        ErrorKind::IdempotencyConflict => StatusCode::CONFLICT,
        ErrorKind::IdempotencyMismatch => StatusCode::UNPROCESSABLE_ENTITY,
        ErrorKind::InvalidRequest => StatusCode::BAD_REQUEST,
        ErrorKind::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        ErrorKind::RateLimited => StatusCode::TOO_MANY_REQUESTS,
        ErrorKind::Inner => StatusCode::BAD_GATEWAY,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

fn title(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::CircuitOpen => "Circuit breaker open",
        ErrorKind::BulkheadFull => "Too many concurrent requests",
        ErrorKind::DeadlineExceeded => "Deadline exceeded",
        ErrorKind::Timeout => "Upstream timed out",
        ErrorKind::RetryBudgetExhausted => "Retry budget exhausted",
        ErrorKind::IdempotencyConflict => "Request already in progress",
        ErrorKind::IdempotencyMismatch => "Idempotency key reused",
        ErrorKind::InvalidRequest => "Invalid request",
        ErrorKind::PayloadTooLarge => "Payload too large",
        ErrorKind::StoreUnavailable => "Service unavailable",
        ErrorKind::RateLimited => "Rate limit exceeded",
        ErrorKind::ShuttingDown => "Service shutting down",
        ErrorKind::Throttled => "Request throttled",
        ErrorKind::Inner => "Upstream failure",
        _ => "Internal error",
    }
}

fn default_detail(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::CircuitOpen => {
            "A dependency is failing; calls to it are paused to let it recover."
        }
        ErrorKind::BulkheadFull => "The service is at capacity for this operation.",
        ErrorKind::DeadlineExceeded => "The request's deadline passed before it completed.",
        ErrorKind::Timeout => "An upstream call took longer than allowed.",
        ErrorKind::RetryBudgetExhausted => {
            "A dependency is failing and no more retries are allowed right now."
        }
        ErrorKind::IdempotencyConflict => {
            "A request with the same Idempotency-Key is still being processed."
        }
        ErrorKind::IdempotencyMismatch => {
            "This Idempotency-Key was already used with a different request."
        }
        ErrorKind::InvalidRequest => "The request is malformed.",
        ErrorKind::PayloadTooLarge => "The request body is larger than allowed.",
        ErrorKind::StoreUnavailable => "A backing store is unreachable.",
        ErrorKind::RateLimited => "Too many requests; retry after the time indicated.",
        ErrorKind::ShuttingDown => {
            "This instance is shutting down; send the request to another instance."
        }
        ErrorKind::Throttled => {
            "A dependency is rejecting most requests; this one was not sent to it."
        }
        ErrorKind::Inner => "An upstream dependency failed.",
        _ => "The request failed.",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_replace_one_row_only() {
        let config = ProblemConfig::new()
            .with_status(ErrorKind::BulkheadFull, StatusCode::INTERNAL_SERVER_ERROR)
            .with_status(ErrorKind::BulkheadFull, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(
            config.status(&Error::new(ErrorKind::BulkheadFull)),
            StatusCode::TOO_MANY_REQUESTS
        );
        assert_eq!(
            config.status(&Error::new(ErrorKind::CircuitOpen)),
            StatusCode::SERVICE_UNAVAILABLE
        );
    }
}
