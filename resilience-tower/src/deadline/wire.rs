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
    #[inline]
    pub(crate) fn lookup(
        headers: &HeaderMap,
        millis_header: &'a HeaderName,
    ) -> (Self, Option<Result<Duration, DecodeError>>) {
        if headers.is_empty() {
            return (Wire::Millis(millis_header), None);
        }
        Self::scan(headers, millis_header)
    }

    /// [`lookup`](Self::lookup) in a map with at least one header.
    fn scan(
        headers: &HeaderMap,
        millis_header: &'a HeaderName,
    ) -> (Self, Option<Result<Duration, DecodeError>>) {
        if headers.len() > SCAN_MAX {
            let wire = Self::of(headers, millis_header);
            return (wire, wire.read(headers));
        }
        let (mut content_type, mut millis, mut grpc) = (None, None, None);
        let (mut millis_again, mut grpc_again) = (false, false);
        for (name, value) in headers {
            if *name == CONTENT_TYPE {
                content_type.get_or_insert(value);
            } else if name == millis_header {
                millis_again |= millis.replace(value).is_some();
            } else if *name == GRPC_TIMEOUT_NAME {
                grpc_again |= grpc.replace(value).is_some();
            }
        }
        let grpc_request =
            content_type.is_some_and(|v| crate::http::grpc::is_grpc_content_type(v.as_bytes()));
        let (wire, value, again) = if grpc_request {
            (Wire::Grpc, grpc, grpc_again)
        } else {
            (Wire::Millis(millis_header), millis, millis_again)
        };
        match value {
            // Repeated: the rule for several values, over all of them.
            Some(_) if again => (wire, wire.read(headers)),
            value => (wire, value.map(|v| wire.decode(v))),
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

    /// The timeout the request carries: `None` without the header. A header repeated
    /// (several lines, as a proxy that adds its own may send) gives the smallest of its
    /// values, since a deadline only ever shrinks on its way; any malformed value makes
    /// the whole header malformed.
    pub(crate) fn read(self, headers: &HeaderMap) -> Option<Result<Duration, DecodeError>> {
        let mut values = match self {
            Wire::Grpc => headers.get_all(GRPC_TIMEOUT).iter(),
            Wire::Millis(name) => headers.get_all(name).iter(),
        };
        let first = self.decode(values.next()?);
        Some(first.and_then(|first| {
            values.try_fold(first, |smallest, value| {
                Ok(smallest.min(self.decode(value)?))
            })
        }))
    }

    fn decode(self, value: &HeaderValue) -> Result<Duration, DecodeError> {
        match self {
            Wire::Grpc => codec::decode_grpc_timeout(value.as_bytes()),
            Wire::Millis(_) => codec::decode_millis(value.as_bytes()),
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
            vec![("connect-timeout-ms", "9"), ("connect-timeout-ms", "soon")],
            vec![
                ("content-type", "application/grpc"),
                ("grpc-timeout", "5S"),
                ("grpc-timeout", "20m"),
            ],
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

    #[test]
    fn a_repeated_timeout_header_gives_its_smallest_value_and_any_malformed_one_fails() {
        let millis = HeaderName::from_static("connect-timeout-ms");
        let read = |pairs: &[(&'static str, &'static str)]| {
            let headers = map(pairs);
            Wire::lookup(&headers, &millis).1
        };
        let ms = Duration::from_millis;
        let repeated = [("connect-timeout-ms", "900"), ("connect-timeout-ms", "250")];
        assert_eq!(read(&repeated), Some(Ok(ms(250))));
        let grpc = [
            ("content-type", "application/grpc"),
            ("grpc-timeout", "20m"),
            ("grpc-timeout", "5S"),
        ];
        assert_eq!(read(&grpc), Some(Ok(ms(20))));
        let bad = [
            ("connect-timeout-ms", "250"),
            ("connect-timeout-ms", "soon"),
        ];
        assert!(matches!(read(&bad), Some(Err(_))));
        // Past the one-pass scan's size too.
        let mut headers = map(&[("x-filler", "1"); 10]);
        headers.append(&millis, HeaderValue::from_static("40"));
        headers.append(&millis, HeaderValue::from_static("30"));
        assert_eq!(Wire::lookup(&headers, &millis).1, Some(Ok(ms(30))));
    }
}
