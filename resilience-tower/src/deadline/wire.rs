//! Reading and writing the remaining time in request headers.

use std::time::Duration;

use http::{HeaderMap, HeaderName, HeaderValue};
use resilience_core::deadline::codec::{self, DecodeError, GRPC_TIMEOUT};

/// Which header a request carries its timeout in, decided by its protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Wire<'a> {
    /// `grpc-timeout`, for gRPC requests.
    Grpc,
    /// The configured millisecond header, for everything else.
    Millis(&'a HeaderName),
}

impl<'a> Wire<'a> {
    pub(crate) fn of(headers: &HeaderMap, millis_header: &'a HeaderName) -> Self {
        if crate::http::grpc::is_grpc(headers) {
            Wire::Grpc
        } else {
            Wire::Millis(millis_header)
        }
    }

    pub(crate) fn header_name(self) -> &'a str {
        match self {
            Wire::Grpc => GRPC_TIMEOUT,
            Wire::Millis(name) => name.as_str(),
        }
    }

    /// The timeout the request carries: `None` without the header.
    pub(crate) fn read(self, headers: &HeaderMap) -> Option<Result<Duration, DecodeError>> {
        match self {
            Wire::Grpc => headers
                .get(GRPC_TIMEOUT)
                .map(|v| codec::decode_grpc_timeout(v.as_bytes())),
            Wire::Millis(name) => headers
                .get(name)
                .map(|v| codec::decode_millis(v.as_bytes())),
        }
    }

    /// The header value for `remaining`, or `None` when the format rounds it to zero
    /// (less than a nanosecond for gRPC, less than a millisecond otherwise): nothing
    /// is left to hand on.
    pub(crate) fn encode(self, remaining: Duration) -> Option<HeaderValue> {
        let encoded = match self {
            Wire::Grpc if remaining.is_zero() => return None,
            Wire::Grpc => codec::encode_grpc_timeout(remaining),
            Wire::Millis(_) if remaining < Duration::from_millis(1) => return None,
            Wire::Millis(_) => codec::encode_millis(remaining),
        };
        // Only ASCII digits and unit letters: always a valid header value.
        HeaderValue::from_bytes(encoded.as_bytes()).ok()
    }

    pub(crate) fn insert(self, headers: &mut HeaderMap, value: HeaderValue) {
        match self {
            Wire::Grpc => headers.insert(GRPC_TIMEOUT, value),
            Wire::Millis(name) => headers.insert(name.clone(), value),
        };
    }
}
