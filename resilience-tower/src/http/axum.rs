//! `IntoResponse` for [`HttpError`], so axum handlers can return resilience errors.

use axum_core::response::{IntoResponse, Response};

use super::HttpError;

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        self.to_response().map(axum_core::body::Body::new)
    }
}
