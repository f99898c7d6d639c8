//! Reading and writing the remaining time in request headers.

use std::time::Duration;

use http::header::CONTENT_TYPE;
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

/// `grpc-timeout` as a header name, for comparisons without parsing.
const GRPC_TIMEOUT_NAME: HeaderName = HeaderName::from_static(GRPC_TIMEOUT);

/// Header maps up to this many values are scanned once rather than hashed twice.
const SCAN_MAX: usize = 8;

impl<'a> Wire<'a> {
    /// The request's wire format and its timeout (`None` without the header): what
    /// [`of`](Self::of) then [`read`](Self::read) give, in one pass over a small header
    /// map instead of two hashed lookups.
    pub(crate) fn lookup(
        headers: &HeaderMap,
        millis_header: &'a HeaderName,
    ) -> (Self, Option<Result<Duration, DecodeError>>) {
        if headers.is_empty() {
            return (Wire::Millis(millis_header), None);
        }
        if headers.len() > SCAN_MAX {
            let wire = Self::of(headers, millis_header);
            return (wire, wire.read(headers));
        }
        let (mut content_type, mut millis, mut grpc) = (None, None, None);
        for (name, value) in headers {
            if *name == CONTENT_TYPE {
                content_type.get_or_insert(value);
            } else if name == millis_header {
                millis.get_or_insert(value);
            } else if *name == GRPC_TIMEOUT_NAME {
                grpc.get_or_insert(value);
            }
        }
        if content_type.is_some_and(|v| crate::http::grpc::is_grpc_content_type(v.as_bytes())) {
            let timeout = grpc.map(|v| codec::decode_grpc_timeout(v.as_bytes()));
            (Wire::Grpc, timeout)
        } else {
            let timeout = millis.map(|v| codec::decode_millis(v.as_bytes()));
            (Wire::Millis(millis_header), timeout)
        }
    }

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

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.append(
                HeaderName::from_static(name),
                HeaderValue::from_static(value),
            );
        }
        headers
    }

    #[test]
    fn one_pass_lookup_agrees_with_hashed_lookups() {
        let millis = HeaderName::from_static("connect-timeout-ms");
        let filler: Vec<(&'static str, &'static str)> =
            (0..10).map(|_| ("x-filler", "1")).collect();
        let cases: Vec<Vec<(&'static str, &'static str)>> = vec![
            vec![],
            vec![("connect-timeout-ms", "250")],
            vec![("connect-timeout-ms", " 250 "), ("connect-timeout-ms", "9")],
            vec![("connect-timeout-ms", "soon")],
            vec![("content-type", "application/grpc"), ("grpc-timeout", "5m")],
            vec![
                ("grpc-timeout", "5m"),
                ("content-type", "application/grpc+proto"),
            ],
            vec![
                ("content-type", "application/grpc"),
                ("connect-timeout-ms", "250"),
            ],
            vec![("content-type", "text/plain"), ("grpc-timeout", "5m")],
            vec![("content-type", "text/plain"), ("connect-timeout-ms", "7")],
            vec![
                ("content-type", "application/grpc"),
                ("content-type", "text/plain"),
            ],
            [filler.as_slice(), &[("connect-timeout-ms", "40")]].concat(),
            [
                filler.as_slice(),
                &[("content-type", "application/grpc"), ("grpc-timeout", "1S")],
            ]
            .concat(),
        ];
        for pairs in cases {
            let headers = map(&pairs);
            let wire = Wire::of(&headers, &millis);
            let expected = (wire, wire.read(&headers));
            assert_eq!(Wire::lookup(&headers, &millis), expected, "{pairs:?}");
        }
    }
}
