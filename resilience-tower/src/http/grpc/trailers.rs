//! [`ReadTrailersLayer`]: unary gRPC answers read whole, so that their trailers can be
//! judged.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{HeaderMap, Request, Response};
use http_body::Body;
use http_body_util::{BodyExt, Collected, Limited};
use resilience_core::{BoxError, Error, ErrorKind};
use tower_layer::Layer;
use tower_service::Service;

/// gRPC's default limit on a received message: 4 MiB.
pub const DEFAULT_MAX_MESSAGE: usize = 4 * 1024 * 1024;

/// The trailers of an answer read by [`ReadTrailersService`], as a response extension:
/// what [`GrpcStatus`](super::GrpcStatus) reads `grpc-status` from when the headers have
/// none.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Trailers(pub HeaderMap);

/// Reads each answer's body to its end, so that the `grpc-status` in its trailers is
/// known when the response future completes; see [`ReadTrailersService`].
///
/// ```
/// use resilience_tower::http::grpc::ReadTrailersLayer;
///
/// let layer = ReadTrailersLayer::new().max_message(1024 * 1024);
/// # let _ = layer;
/// ```
#[derive(Clone, Copy, Debug)]
pub struct ReadTrailersLayer {
    max: usize,
}

impl Default for ReadTrailersLayer {
    fn default() -> Self {
        Self::new()
    }
}

impl ReadTrailersLayer {
    /// Reads answers of up to [`DEFAULT_MAX_MESSAGE`] bytes.
    pub const fn new() -> Self {
        Self {
            max: DEFAULT_MAX_MESSAGE,
        }
    }

    /// The largest answer body read; a larger one fails the call with
    /// [`ErrorKind::PayloadTooLarge`] rather than being held in memory.
    #[must_use]
    pub const fn max_message(mut self, bytes: usize) -> Self {
        self.max = bytes;
        self
    }
}

impl<S> Layer<S> for ReadTrailersLayer {
    type Service = ReadTrailersService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ReadTrailersService {
            inner,
            max: self.max,
        }
    }
}

/// A client-side service for **unary** gRPC calls: reads each answer's body (up to a cap)
/// with its trailers before the response future completes, and returns it with a
/// [`Trailers`] extension. Put it inside a circuit breaker or a retry layer classifying
/// with [`GrpcStatus`](super::GrpcStatus): a call whose server answered messages then
/// `grpc-status: 14` in the trailers is then judged a failure, not a success.
///
/// Why only unary calls: a streaming call's trailers come when the stream ends, which
/// may be never; read whole, a stream would be held in memory. A body error fails the
/// call with [`ErrorKind::Inner`] (the error as its source).
#[derive(Clone, Debug)]
pub struct ReadTrailersService<S> {
    inner: S,
    max: usize,
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for ReadTrailersService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
    ResBody: Body<Data = Bytes> + Send + 'static,
    ResBody::Error: Into<BoxError>,
{
    type Response = Response<Collected<Bytes>>;
    type Error = Error;
    type Future = ResponseFuture;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.inner.poll_ready(cx).map_err(Error::wrap)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let answer = self.inner.call(request);
        let max = self.max;
        ResponseFuture {
            inner: Box::pin(async move {
                let (parts, body) = answer.await.map_err(Error::wrap)?.into_parts();
                let collected = Limited::new(body, max).collect().await.map_err(|e| {
                    if e.is::<http_body_util::LengthLimitError>() {
                        Error::new(ErrorKind::PayloadTooLarge).with_source(e)
                    } else {
                        Error::wrap(e)
                    }
                })?;
                let mut response = Response::from_parts(parts, collected);
                if let Some(trailers) = response.body().trailers().cloned() {
                    response.extensions_mut().insert(Trailers(trailers));
                }
                Ok(response)
            }),
        }
    }
}

type Boxed = Pin<Box<dyn Future<Output = Result<Response<Collected<Bytes>>, Error>> + Send>>;

/// Response future of [`ReadTrailersService`]: one allocation per call, beside the
/// answer's body it reads into memory anyway.
#[must_use = "futures do nothing unless polled"]
pub struct ResponseFuture {
    inner: Boxed,
}

impl Future for ResponseFuture {
    type Output = Result<Response<Collected<Bytes>>, Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.inner.as_mut().poll(cx)
    }
}

impl fmt::Debug for ResponseFuture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}
