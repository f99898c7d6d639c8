//! [`AmbientDeadline`]: the request's deadline as an axum extractor.

use std::convert::Infallible;

use axum_core::extract::FromRequestParts;
use http::request::Parts;
use resilience_core::Deadline;

/// The deadline the request runs under, as an axum extractor (feature `axum`): the
/// ambient [`Deadline::current`] that [`DeadlineLayer`](super::DeadlineLayer) sets, or the
/// request extension when one was [inserted](super::DeadlineLayerBuilder::request_extension)
/// and nothing is ambient. `None` when the request has no deadline. It never rejects.
///
/// Reading it costs no allocation, which is why the layer inserts no extension by
/// default.
///
/// ```
/// use axum::{Router, routing::get};
/// use http::Request;
/// use http_body_util::BodyExt;
/// use resilience_tower::deadline::{AmbientDeadline, DeadlineLayer};
/// use resilience_tower::http::HttpErrorLayer;
/// use tower::{ServiceBuilder, ServiceExt};
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
/// async fn handler(AmbientDeadline(deadline): AmbientDeadline) -> String {
///     format!("{:?}", deadline.map(|d| d.remaining()))
/// }
/// let app: Router = Router::new().route("/", get(handler)).layer(
///     ServiceBuilder::new()
///         .layer(HttpErrorLayer::new())
///         .layer(DeadlineLayer::new()),
/// );
/// let body = |response: http::Response<axum::body::Body>| async {
///     response.into_body().collect().await.unwrap().to_bytes()
/// };
///
/// let with_deadline = Request::get("/")
///     .header("connect-timeout-ms", "250")
///     .body(axum::body::Body::empty())
///     .unwrap();
/// let response = app.clone().oneshot(with_deadline).await.unwrap();
/// assert_eq!(&body(response).await[..], b"Some(250ms)");
///
/// let without = Request::get("/").body(axum::body::Body::empty()).unwrap();
/// let response = app.oneshot(without).await.unwrap();
/// assert_eq!(&body(response).await[..], b"None");
/// # }
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AmbientDeadline(pub Option<Deadline>);

impl<S: Send + Sync> FromRequestParts<S> for AmbientDeadline {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let deadline = Deadline::current().or_else(|| parts.extensions.get::<Deadline>().copied());
        Ok(Self(deadline))
    }
}
