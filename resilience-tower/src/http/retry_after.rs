//! Parsing `Retry-After` (RFC 9110 §10.2.3) in both of its forms.
//!
//! ```
//! use std::time::{Duration, SystemTime};
//! use http::HeaderValue;
//! use resilience_tower::http::RetryAfter;
//!
//! let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_445_412_480);
//! let delay = RetryAfter::parse(&HeaderValue::from_static("120")).unwrap();
//! assert_eq!(delay.delay_from(now), Duration::from_secs(120));
//!
//! let date = RetryAfter::parse(&HeaderValue::from_static("Wed, 21 Oct 2015 07:28:30 GMT")).unwrap();
//! assert_eq!(date.delay_from(now), Duration::from_secs(30));
//!
//! assert!(RetryAfter::parse(&HeaderValue::from_static("soon")).is_none());
//! ```

use std::time::{Duration, SystemTime};

use http::{HeaderMap, HeaderValue, header::RETRY_AFTER};

/// A parsed `Retry-After` value: a delay, or a date to wait for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RetryAfter {
    /// `Retry-After: 120`: wait this long.
    Delay(Duration),
    /// `Retry-After: Wed, 21 Oct 2015 07:28:30 GMT`: wait until then.
    Date(SystemTime),
}

impl RetryAfter {
    /// Parses a header value, in either form. Returns `None` for anything that is not a
    /// valid value: empty, signed, fractional, not ASCII, a delay too large for a `u64`
    /// of seconds, or a date in none of the three HTTP-date formats. Never panics.
    pub fn parse(value: &HeaderValue) -> Option<Self> {
        Self::parse_bytes(value.as_bytes())
    }

    /// [`parse`](RetryAfter::parse) over raw bytes.
    pub fn parse_bytes(value: &[u8]) -> Option<Self> {
        let value = value.trim_ascii();
        if value.is_empty() {
            return None;
        }
        if value.iter().all(u8::is_ascii_digit) {
            let mut secs: u64 = 0;
            for digit in value {
                secs = secs.checked_mul(10)?.checked_add(u64::from(digit - b'0'))?;
            }
            return Some(RetryAfter::Delay(Duration::from_secs(secs)));
        }
        let text = std::str::from_utf8(value).ok()?;
        httpdate::parse_http_date(text).ok().map(RetryAfter::Date)
    }

    /// How long to wait, counted from `now`. A date in the past means no wait.
    pub fn delay_from(self, now: SystemTime) -> Duration {
        self.delay_with(|| now)
    }

    /// [`delay_from`](RetryAfter::delay_from), asking `now` for the time only when the
    /// value is a date, so the common delta-seconds form costs no clock read.
    pub fn delay_with(self, now: impl FnOnce() -> SystemTime) -> Duration {
        match self {
            RetryAfter::Delay(d) => d,
            RetryAfter::Date(at) => at.duration_since(now()).unwrap_or(Duration::ZERO),
        }
    }
}

/// The delay asked for by the `Retry-After` header in `headers`, counted from the
/// current wall-clock time (dates are wall-clock by nature). `None` if absent or invalid.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let parsed = RetryAfter::parse(headers.get(RETRY_AFTER)?)?;
    Some(parsed.delay_with(SystemTime::now))
}

/// Formats a hint as a `Retry-After` delta-seconds value, rounded up so that a client
/// that obeys it never comes back early.
pub(crate) fn header_value(hint: Duration) -> HeaderValue {
    HeaderValue::from(ceil_secs(hint))
}

/// Whole seconds, rounded up (saturating at `u64::MAX`).
pub(crate) fn ceil_secs(d: Duration) -> u64 {
    d.as_secs().saturating_add(u64::from(d.subsec_nanos() > 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_value_rounds_up_to_whole_seconds() {
        assert_eq!(header_value(Duration::ZERO), "0");
        assert_eq!(header_value(Duration::from_millis(1)), "1");
        assert_eq!(header_value(Duration::from_millis(2000)), "2");
        assert_eq!(header_value(Duration::from_millis(2001)), "3");
        assert_eq!(header_value(Duration::MAX), u64::MAX.to_string().as_str());
    }

    #[test]
    fn all_three_http_date_formats_parse() {
        let expected = SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_777);
        for text in [
            "Sun, 06 Nov 1994 08:49:37 GMT",
            "Sunday, 06-Nov-94 08:49:37 GMT",
            "Sun Nov  6 08:49:37 1994",
        ] {
            assert_eq!(
                RetryAfter::parse_bytes(text.as_bytes()),
                Some(RetryAfter::Date(expected)),
                "{text}"
            );
        }
    }

    #[test]
    fn optional_whitespace_is_ignored_but_signs_and_fractions_are_not() {
        assert_eq!(
            RetryAfter::parse_bytes(b"  7 "),
            Some(RetryAfter::Delay(Duration::from_secs(7)))
        );
        for bad in [&b"-1"[..], b"+1", b"1.5", b"1 2", b"", b"   ", b"0x10"] {
            assert_eq!(RetryAfter::parse_bytes(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn a_delay_beyond_u64_seconds_is_rejected_not_wrapped() {
        assert_eq!(
            RetryAfter::parse_bytes(b"18446744073709551615"),
            Some(RetryAfter::Delay(Duration::from_secs(u64::MAX)))
        );
        assert_eq!(RetryAfter::parse_bytes(b"18446744073709551616"), None);
    }
}
