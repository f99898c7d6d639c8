//! [`GrpcStatus`]: gRPC answers judged by their `grpc-status`.

use std::time::Duration;

use http::{HeaderMap, Response};
use resilience_core::classify::error_class;
use resilience_core::{Class, Classify};

use super::Trailers;
use super::codes;
use crate::http::HttpStatus;

/// Classifies gRPC answers by their `grpc-status`, for breakers and retries.
///
/// A gRPC server answers HTTP 200 whatever happened; the outcome is `grpc-status`, in the
/// headers of a *Trailers-Only* answer (what servers send for an error before any
/// message, and what [`HttpErrorLayer`](crate::http::HttpErrorLayer) sends) or in the
/// trailers after the messages. This classifier reads the headers first, then the
/// trailers when [`ReadTrailersLayer`](super::ReadTrailersLayer) has read them (a
/// [`Trailers`] extension on the response).
///
/// | answer | class |
/// |---|---|
/// | `OK` | `Success` |
/// | a [retryable](GrpcStatus::retryable) code (default: `UNAVAILABLE`) | `Transient`, waiting `grpc-retry-pushback-ms` if the server sent it |
/// | a retryable code with a negative or malformed pushback | `Permanent`: gRPC's "do not retry" |
/// | `UNKNOWN`, `DEADLINE_EXCEEDED`, `RESOURCE_EXHAUSTED`, `INTERNAL`, `DATA_LOSS`, `UNAVAILABLE` when not retryable | `Permanent`: the server's failure, counted by breakers, not retried |
/// | every other code (`INVALID_ARGUMENT`, `NOT_FOUND`, `CANCELLED`, ...) and numbers outside 0..=16 | `Benign`: the call's fault, not the server's |
/// | no `grpc-status` yet, HTTP 200 | `Success`: a stream whose trailers have not come (put `ReadTrailersLayer` inside to judge unary calls by their trailers) |
/// | no `grpc-status`, another HTTP status | as [`HttpStatus`]: a proxy's 503 is transient |
/// | `Err(_)` | the class the error carries, else `Transient` |
///
/// The retryable set is gRPC's retry policy's `retryableStatusCodes`: `UNAVAILABLE` by
/// default, the one code that means "not processed, try again"; add
/// `RESOURCE_EXHAUSTED` for servers that shed load with pushback, or `DEADLINE_EXCEEDED`
/// for calls whose attempts have their own, shorter timeouts.
///
/// ```
/// use http::Response;
/// use resilience_core::{Class, Classify, Error};
/// use resilience_tower::http::grpc::{GrpcStatus, codes};
///
/// let busy: Result<Response<()>, Error> = Ok(Response::builder()
///     .header("grpc-status", "14")
///     .header("grpc-retry-pushback-ms", "250")
///     .body(())
///     .unwrap());
/// assert_eq!(
///     GrpcStatus::new().classify(&busy),
///     Class::Transient { retry_after: Some(std::time::Duration::from_millis(250)) },
/// );
/// let missing: Result<Response<()>, Error> =
///     Ok(Response::builder().header("grpc-status", "5").body(()).unwrap());
/// assert_eq!(GrpcStatus::new().classify(&missing), Class::Benign);
/// let quota = GrpcStatus::new().retryable(&[codes::UNAVAILABLE, codes::RESOURCE_EXHAUSTED]);
/// let full: Result<Response<()>, Error> =
///     Ok(Response::builder().header("grpc-status", "8").body(()).unwrap());
/// assert!(quota.classify(&full).is_transient());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GrpcStatus {
    /// Bit `c` set: code `c` is retryable.
    retryable: u32,
    max_pushback: Duration,
}

impl Default for GrpcStatus {
    fn default() -> Self {
        Self::new()
    }
}

/// The codes that are the server's failure rather than the call's.
const SERVER_FAULTS: u32 = 1 << codes::UNKNOWN
    | 1 << codes::DEADLINE_EXCEEDED
    | 1 << codes::RESOURCE_EXHAUSTED
    | 1 << codes::INTERNAL
    | 1 << codes::UNAVAILABLE
    | 1 << codes::DATA_LOSS;

impl GrpcStatus {
    /// The classifier retrying `UNAVAILABLE`, with pushbacks capped at
    /// [`HttpStatus::DEFAULT_MAX_RETRY_AFTER`].
    pub const fn new() -> Self {
        Self {
            retryable: 1 << codes::UNAVAILABLE,
            max_pushback: HttpStatus::DEFAULT_MAX_RETRY_AFTER,
        }
    }

    /// The codes to retry (gRPC's `retryableStatusCodes`), replacing the default; numbers
    /// that are not gRPC codes are ignored.
    #[must_use]
    pub fn retryable(mut self, codes: &[u8]) -> Self {
        self.retryable = codes
            .iter()
            .filter(|&&c| c <= codes::UNAUTHENTICATED)
            .fold(0, |set, &c| set | 1 << c);
        self
    }

    /// Caps server pushbacks at `max`, so a confused server cannot park a caller for days.
    #[must_use]
    pub const fn max_pushback(mut self, max: Duration) -> Self {
        self.max_pushback = max;
        self
    }

    /// The class of an answer with this `grpc-status` (and pushback) in `fields`: the
    /// response headers or the trailers. `None` when `fields` has no valid
    /// `grpc-status`.
    pub fn classify_fields(&self, fields: &HeaderMap) -> Option<Class> {
        let code: u8 = fields.get("grpc-status")?.to_str().ok()?.parse().ok()?;
        Some(self.classify_code(code, fields))
    }

    fn classify_code(&self, code: u8, fields: &HeaderMap) -> Class {
        if code == codes::OK {
            return Class::Success;
        }
        if code > codes::UNAUTHENTICATED {
            return Class::Benign;
        }
        let bit = 1 << code;
        if self.retryable & bit != 0 {
            match fields.get("grpc-retry-pushback-ms") {
                None => Class::TRANSIENT,
                Some(value) => match value.to_str().ok().and_then(|v| v.parse::<u64>().ok()) {
                    Some(ms) => Class::Transient {
                        retry_after: Some(Duration::from_millis(ms).min(self.max_pushback)),
                    },
                    // Negative or malformed: the server asks not to retry.
                    None => Class::Permanent,
                },
            }
        } else if SERVER_FAULTS & bit != 0 {
            Class::Permanent
        } else {
            Class::Benign
        }
    }
}

impl<B, E: 'static> Classify<Response<B>, E> for GrpcStatus {
    #[inline]
    fn classify(&self, result: &Result<Response<B>, E>) -> Class {
        let response = match result {
            Ok(response) => response,
            Err(err) => return error_class(err),
        };
        if let Some(class) = self.classify_fields(response.headers()) {
            return class;
        }
        if let Some(class) = response
            .extensions()
            .get::<Trailers>()
            .and_then(|t| self.classify_fields(&t.0))
        {
            return class;
        }
        if response.status() == http::StatusCode::OK {
            Class::Success
        } else {
            HttpStatus::new()
                .max_retry_after(self.max_pushback)
                .classify_parts(response.status(), response.headers())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(code: &str, pushback: Option<&str>) -> Class {
        let mut headers = HeaderMap::new();
        headers.insert("grpc-status", code.parse().unwrap());
        if let Some(p) = pushback {
            headers.insert("grpc-retry-pushback-ms", p.parse().unwrap());
        }
        GrpcStatus::new().classify_fields(&headers).unwrap()
    }

    #[test]
    fn every_code_maps_to_the_documented_class() {
        for code in 0..=20_u8 {
            let expected = match code {
                codes::OK => Class::Success,
                codes::UNAVAILABLE => Class::TRANSIENT,
                codes::UNKNOWN
                | codes::DEADLINE_EXCEEDED
                | codes::RESOURCE_EXHAUSTED
                | codes::INTERNAL
                | codes::DATA_LOSS => Class::Permanent,
                _ => Class::Benign,
            };
            assert_eq!(class(&code.to_string(), None), expected, "{code}");
        }
    }

    #[test]
    fn pushback_is_the_hint_capped_and_a_negative_one_stops_retries() {
        assert_eq!(
            class("14", Some("1500")).retry_after(),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(
            class("14", Some("99999999999")).retry_after(),
            Some(HttpStatus::DEFAULT_MAX_RETRY_AFTER)
        );
        assert_eq!(class("14", Some("-1")), Class::Permanent);
        assert_eq!(class("14", Some("soon")), Class::Permanent);
        // Pushback on a code that is not retried changes nothing.
        assert_eq!(class("3", Some("10")), Class::Benign);
    }

    #[test]
    fn a_status_in_the_trailers_is_read_when_the_headers_have_none() {
        let mut trailers = HeaderMap::new();
        trailers.insert("grpc-status", "13".parse().unwrap());
        let mut response = Response::new(());
        response.extensions_mut().insert(Trailers(trailers));
        let result: Result<_, resilience_core::Error> = Ok(response);
        assert_eq!(GrpcStatus::new().classify(&result), Class::Permanent);
    }

    #[test]
    fn without_a_status_http_200_is_a_success_and_a_proxy_503_is_transient() {
        let ok: Result<_, resilience_core::Error> = Ok(Response::new(()));
        assert_eq!(GrpcStatus::new().classify(&ok), Class::Success);
        let proxy: Result<_, resilience_core::Error> =
            Ok(Response::builder().status(503).body(()).unwrap());
        assert!(GrpcStatus::new().classify(&proxy).is_transient());
    }

    #[test]
    fn garbage_in_grpc_status_is_no_status() {
        let mut headers = HeaderMap::new();
        headers.insert("grpc-status", "fourteen".parse().unwrap());
        assert_eq!(GrpcStatus::new().classify_fields(&headers), None);
    }
}
