//! [`HttpErrorLayer`]: the last layer of a resilient HTTP stack, turning every error into
//! a problem+json response so the stack fits `axum::Router::layer` without
//! `HandleErrorLayer`. The layer and the service are re-exported from
//! [`http`](crate::http).

mod future;
mod layer;

use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, Response};
use http_body::Body;
use resilience_core::{BoxError, Error};
use tower_service::Service;

pub use future::ResponseFuture;
pub use layer::HttpErrorLayer;

use super::ProblemConfig;
use crate::body::PrefixedBody;

/// Wraps an HTTP service whose errors convert to [`BoxError`] and answers every error
/// with the response [`ProblemConfig::response`] builds, so the service never fails.
///
/// ```
/// use std::convert::Infallible;
/// use http::{Request, Response, StatusCode};
/// use http_body_util::Full;
/// use bytes::Bytes;
/// use resilience_core::{Error, ErrorKind};
/// use resilience_tower::http::HttpErrorLayer;
/// use tower::{ServiceBuilder, ServiceExt, service_fn};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let svc = ServiceBuilder::new()
///     .layer(HttpErrorLayer::new())
///     .service(service_fn(|_req: Request<()>| async {
///         Err::<Response<Full<Bytes>>, _>(Error::new(ErrorKind::BulkheadFull))
///     }));
/// let response = svc.oneshot(Request::new(())).await.unwrap();
/// assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
/// # }
/// ```
///
/// Errors that are not a [`resilience_core::Error`] become kind `Inner` (502).
///
/// A gRPC request (`content-type: application/grpc*`) is answered with a gRPC status
/// instead ([`grpc::response`](super::grpc::response): HTTP 200 with `grpc-status`, e.g.
/// 4 `DEADLINE_EXCEEDED`), since gRPC clients read the outcome from `grpc-status`, not
/// from the HTTP status. Before
/// answering, the error is reported: recorded on the current span
/// ([`Error::record_in_current_span`]) and emitted as an event ([`Error::emit_event`]).
///
/// # Readiness
///
/// `poll_ready` is always ready or pending, never failed: if the inner service's
/// `poll_ready` fails, the error is kept and the next `call` answers it as a response
/// without calling the inner service. The `poll_ready` after that asks the inner service
/// again, so a stack whose readiness recovers (a breaker that half-opens) serves again;
/// one that stays failed keeps being answered with its error.
///
/// # Clone
///
/// Clones share the [`ProblemConfig`] (in an `Arc`) and clone the inner service; an
/// error kept from a failed `poll_ready` stays with the instance that saw it.
#[derive(Debug)]
pub struct HttpErrorService<S> {
    inner: S,
    config: Arc<ProblemConfig>,
    ready_error: Option<Error>,
}

impl<S> HttpErrorService<S> {
    /// Wraps `inner`, answering errors as `config` says.
    pub fn new(inner: S, config: Arc<ProblemConfig>) -> Self {
        Self {
            inner,
            config,
            ready_error: None,
        }
    }

    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The wrapped service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Unwraps the service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S: Clone> Clone for HttpErrorService<S> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            config: Arc::clone(&self.config),
            ready_error: None,
        }
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for HttpErrorService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    S::Error: Into<BoxError>,
    ResBody: Body<Data = Bytes>,
{
    type Response = Response<PrefixedBody<ResBody>>;
    type Error = Infallible;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        if self.ready_error.is_some() {
            return Poll::Ready(Ok(()));
        }
        match self.inner.poll_ready(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Ok(())) => Poll::Ready(Ok(())),
            Poll::Ready(Err(err)) => {
                self.ready_error = Some(Error::from(err.into()));
                Poll::Ready(Ok(()))
            }
        }
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let grpc = super::grpc::is_grpc(request.headers());
        let config = Arc::clone(&self.config);
        match self.ready_error.take() {
            Some(err) => ResponseFuture::failed(err, config, grpc),
            None => ResponseFuture::called(self.inner.call(request), config, grpc),
        }
    }
}
