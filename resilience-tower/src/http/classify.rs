//! Classifying HTTP responses by status code: [`HttpStatus`].
//!
//! ```
//! use http::{Response, StatusCode};
//! use resilience_core::{Class, Classify, Error};
//! use resilience_tower::http::HttpStatus;
//!
//! let busy: Result<Response<()>, Error> = Ok(Response::builder()
//!     .status(StatusCode::SERVICE_UNAVAILABLE)
//!     .header("retry-after", "3")
//!     .body(())
//!     .unwrap());
//! assert_eq!(
//!     HttpStatus::new().classify(&busy),
//!     Class::Transient { retry_after: Some(std::time::Duration::from_secs(3)) },
//! );
//!
//! let missing: Result<Response<()>, Error> =
//!     Ok(Response::builder().status(StatusCode::NOT_FOUND).body(()).unwrap());
//! assert_eq!(HttpStatus::new().classify(&missing), Class::Benign);
//! ```

use std::time::{Duration, SystemTime};

use http::{HeaderMap, Response, StatusCode};
use resilience_core::Class;
use resilience_core::Classify;
use resilience_core::classify::error_class;

use super::RetryAfter;

/// Classifies HTTP responses by status code.
///
/// | status | class |
/// |---|---|
/// | 1xx, 2xx, 3xx | `Success` |
/// | 408, 429, every 5xx | `Transient`, with the `Retry-After` delay if the response has one |
/// | every other 4xx | `Benign`: the request's fault, not the dependency's |
/// | `Err(_)` | as [`TransientErrors`](resilience_core::classify::TransientErrors): the class the error carries, else `Transient` |
///
/// `501 Not Implemented` and `505 HTTP Version Not Supported` are transient too: the
/// rule is "5xx means the server failed", kept simple so that it is predictable. Wrap
/// the classifier in a closure ([`resilience_core::classify::from_fn`]) to change a row.
///
/// # Bounded hints
///
/// A `Retry-After` longer than [`max_retry_after`](HttpStatus::max_retry_after) (default
/// [one hour](HttpStatus::DEFAULT_MAX_RETRY_AFTER)) is clamped to it, so a confused or
/// hostile upstream cannot park a caller for years with `Retry-After: 99999999999`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HttpStatus {
    max_retry_after: Duration,
}

impl Default for HttpStatus {
    fn default() -> Self {
        Self::new()
    }
}

impl HttpStatus {
    /// The longest `Retry-After` hint taken as it is, unless configured: one hour.
    pub const DEFAULT_MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

    /// The classifier with the default hint cap.
    pub const fn new() -> Self {
        Self {
            max_retry_after: Self::DEFAULT_MAX_RETRY_AFTER,
        }
    }

    /// Clamps `Retry-After` hints to `max`.
    #[must_use]
    pub const fn max_retry_after(mut self, max: Duration) -> Self {
        self.max_retry_after = max;
        self
    }

    /// The class of a response with this status and these headers, reading dates in
    /// `Retry-After` against the wall clock.
    #[inline]
    pub fn classify_parts(&self, status: StatusCode, headers: &HeaderMap) -> Class {
        self.classify_parts_at(status, headers, SystemTime::now)
    }

    /// [`classify_parts`](HttpStatus::classify_parts) with the wall clock supplied by
    /// `now` (called only when a `Retry-After` date has to be read).
    #[inline]
    pub fn classify_parts_at(
        &self,
        status: StatusCode,
        headers: &HeaderMap,
        now: impl FnOnce() -> SystemTime,
    ) -> Class {
        // The common case first: 1xx, 2xx and 3xx.
        if status.as_u16() < 400 {
            return Class::Success;
        }
        if status.is_server_error()
            || status == StatusCode::REQUEST_TIMEOUT
            || status == StatusCode::TOO_MANY_REQUESTS
        {
            let retry_after = headers
                .get(http::header::RETRY_AFTER)
                .and_then(RetryAfter::parse)
                .map(|r| r.delay_with(now).min(self.max_retry_after));
            Class::Transient { retry_after }
        } else if status.is_client_error() {
            Class::Benign
        } else {
            Class::Success
        }
    }
}

impl<B, E: 'static> Classify<Response<B>, E> for HttpStatus {
    #[inline]
    fn classify(&self, result: &Result<Response<B>, E>) -> Class {
        match result {
            Ok(response) => self.classify_parts(response.status(), response.headers()),
            Err(err) => error_class(err),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn class_of(status: u16, retry_after: Option<&'static str>) -> Class {
        let mut headers = HeaderMap::new();
        if let Some(v) = retry_after {
            headers.insert(http::header::RETRY_AFTER, v.parse().unwrap());
        }
        HttpStatus::new().classify_parts(StatusCode::from_u16(status).unwrap(), &headers)
    }

    #[test]
    fn huge_hints_are_clamped_to_the_cap() {
        assert_eq!(
            class_of(503, Some("18446744073709551615")).retry_after(),
            Some(HttpStatus::DEFAULT_MAX_RETRY_AFTER)
        );
        let mut headers = HeaderMap::new();
        headers.insert(http::header::RETRY_AFTER, "120".parse().unwrap());
        let short = HttpStatus::new().max_retry_after(Duration::from_secs(30));
        assert_eq!(
            short
                .classify_parts(StatusCode::SERVICE_UNAVAILABLE, &headers)
                .retry_after(),
            Some(Duration::from_secs(30))
        );
    }

    #[test]
    fn dates_are_read_against_the_supplied_clock() {
        let mut headers = HeaderMap::new();
        headers.insert(
            http::header::RETRY_AFTER,
            "Wed, 21 Oct 2015 07:28:30 GMT".parse().unwrap(),
        );
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_445_412_480);
        let class =
            HttpStatus::new().classify_parts_at(StatusCode::TOO_MANY_REQUESTS, &headers, || now);
        assert_eq!(class.retry_after(), Some(Duration::from_secs(30)));
    }

    #[test]
    fn every_status_maps_to_the_documented_class() {
        for status in 100..=599_u16 {
            let class = class_of(status, None);
            let expected = match status {
                408 | 429 | 500..=599 => Class::TRANSIENT,
                400..=499 => Class::Benign,
                _ => Class::Success,
            };
            assert_eq!(class, expected, "{status}");
        }
    }

    #[test]
    fn retry_after_is_read_only_for_transient_statuses() {
        let hint = Some(Duration::from_secs(4));
        assert_eq!(class_of(503, Some("4")).retry_after(), hint);
        assert_eq!(class_of(429, Some("4")).retry_after(), hint);
        assert_eq!(class_of(404, Some("4")), Class::Benign);
        assert_eq!(class_of(503, Some("garbage")), Class::TRANSIENT);
    }

    #[test]
    fn errors_keep_the_class_they_carry() {
        let err = resilience_core::Error::new(resilience_core::ErrorKind::Inner)
            .with_class(Class::Permanent);
        let result: Result<Response<()>, _> = Err(err);
        assert_eq!(HttpStatus::new().classify(&result), Class::Permanent);
    }
}
