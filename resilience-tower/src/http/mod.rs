//! HTTP glue: status-code classification, `Retry-After`, and errors as RFC 9457
//! problem+json responses.
//!
//! ```
//! use http::{Request, Response, StatusCode};
//! use http_body_util::Full;
//! use bytes::Bytes;
//! use resilience_core::{Error, ErrorKind};
//! use resilience_tower::http::HttpErrorLayer;
//! use tower::{ServiceBuilder, ServiceExt, service_fn};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! // A stack that can fail with `resilience_core::Error`...
//! let stack = service_fn(|req: Request<()>| async move {
//!     if req.uri().path() == "/busy" {
//!         return Err(Error::new(ErrorKind::BulkheadFull));
//!     }
//!     Ok(Response::new(Full::new(Bytes::from_static(b"ok"))))
//! });
//! // ...becomes infallible: ready for `axum::Router::layer`.
//! let svc = ServiceBuilder::new().layer(HttpErrorLayer::new()).service(stack);
//!
//! let busy = svc.clone().oneshot(Request::get("/busy").body(()).unwrap()).await.unwrap();
//! assert_eq!(busy.status(), StatusCode::SERVICE_UNAVAILABLE);
//! assert_eq!(busy.headers()["content-type"], "application/problem+json");
//!
//! let fine = svc.oneshot(Request::get("/").body(()).unwrap()).await.unwrap();
//! assert_eq!(fine.status(), StatusCode::OK);
//! # }
//! ```

#[cfg(feature = "axum")]
mod axum;
mod classify;
mod error;
pub mod error_layer;
pub mod grpc;
pub mod problem;
pub mod retry_after;

pub use classify::HttpStatus;
pub use error::HttpError;
pub use error_layer::{HttpErrorLayer, HttpErrorService};
pub use problem::{PROBLEM_JSON, ProblemConfig};
pub use retry_after::RetryAfter;
