//! [`HttpError`]: a [`resilience_core::Error`] on its way to becoming a response.

use std::fmt;
use std::sync::Arc;

use bytes::Bytes;
use http::Response;
use http_body_util::Full;
use resilience_core::{BoxError, Error};

use super::ProblemConfig;
use super::problem::report_and_respond;

/// A [`resilience_core::Error`] paired with the [`ProblemConfig`] that turns it into a
/// response.
///
/// With the `axum` feature it implements `IntoResponse`, so a handler can return
/// `Result<T, HttpError>` and use `?` on any error: a [`resilience_core::Error`] keeps
/// its kind, anything else becomes kind `Inner` (502, message not shown).
///
/// Like `anyhow::Error`, `HttpError` does not implement `std::error::Error` itself; that
/// is what lets `From` accept every error type.
///
/// ```
/// use http::StatusCode;
/// use resilience_core::{Error, ErrorKind};
/// use resilience_tower::http::HttpError;
///
/// let err = HttpError::from(Error::new(ErrorKind::DeadlineExceeded));
/// assert_eq!(err.to_response().status(), StatusCode::GATEWAY_TIMEOUT);
/// ```
///
/// # Why a wrapper
///
/// Rust's orphan rule forbids implementing axum's `IntoResponse` (a foreign trait) for
/// `resilience_core::Error` (a foreign type) in this crate, and `resilience-core` stays
/// free of HTTP dependencies on purpose. The wrapper costs nothing: it converts with `?`.
pub struct HttpError {
    error: Error,
    config: Option<Arc<ProblemConfig>>,
}

impl HttpError {
    /// Wraps `error`, to be answered with `config` rather than the default.
    pub fn with_config(error: Error, config: Arc<ProblemConfig>) -> Self {
        Self {
            error,
            config: Some(config),
        }
    }

    /// The wrapped error.
    pub fn error(&self) -> &Error {
        &self.error
    }

    /// Unwraps the error.
    pub fn into_error(self) -> Error {
        self.error
    }

    /// The response: status, headers and problem+json body.
    ///
    /// Also reports the error: recorded on the current span if it declares the
    /// `error.*` fields, and emitted as a `tracing` event.
    pub fn to_response(&self) -> Response<Full<Bytes>> {
        let response = match &self.config {
            Some(config) => report_and_respond(config, &self.error),
            None => report_and_respond(&ProblemConfig::default(), &self.error),
        };
        response.map(Full::new)
    }
}

impl<E: Into<BoxError>> From<E> for HttpError {
    fn from(error: E) -> Self {
        Self {
            error: Error::wrap(error),
            config: None,
        }
    }
}

impl fmt::Debug for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpError")
            .field("error", &self.error)
            .finish_non_exhaustive()
    }
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.error, f)
    }
}
