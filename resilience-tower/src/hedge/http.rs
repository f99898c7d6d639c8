//! [`HttpHedgeService`]: hedging for `http::Request`s, with the retry layer's rule of
//! which requests may be repeated and its capped, replayable body.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::request::Parts;
use http::{Request, Response};
use http_body::Body;
use pin_project_lite::pin_project;
use resilience_core::hedge::Hedge;
use resilience_core::{BoxError, Classify, Error, Name, Primitive};
use tower_layer::Layer;
use tower_service::Service;

use super::future::ResponseFuture as Hedged;
use crate::body::PrefixedBody;
use crate::http::HttpStatus;
use crate::replay::http::{Buffered, HttpReplay, Repeatable, Start};

/// Hedges HTTP requests through a [`Hedge`], buffering bodies up to a cap; see
/// [`HttpHedgeService`].
///
/// ```
/// use resilience_tower::hedge::{Hedge, HttpHedgeLayer};
/// use resilience_tower::http::grpc;
///
/// let hedge = Hedge::builder().name("catalog").build().unwrap();
/// // gRPC calls are all POSTs: opt in those known to be safe to send twice.
/// let layer = HttpHedgeLayer::new(hedge)
///     .max_body(16 * 1024)
///     .also_hedge_if(|request| grpc::is_grpc(&request.headers));
/// # let _ = layer;
/// ```
#[derive(Clone, Debug)]
pub struct HttpHedgeLayer<C = HttpStatus> {
    hedge: Hedge,
    classifier: C,
    repeatable: Repeatable,
}

impl HttpHedgeLayer {
    /// A layer hedging with `hedge`, classifying with [`HttpStatus`], buffering bodies of
    /// up to 64 KiB, hedging only the requests the default rule allows.
    pub fn new(hedge: Hedge) -> Self {
        Self {
            hedge,
            classifier: HttpStatus::new(),
            repeatable: Repeatable::default(),
        }
    }
}

impl<C> HttpHedgeLayer<C> {
    /// The largest body kept for replay; a request with a larger body is sent once.
    #[must_use]
    pub fn max_body(mut self, bytes: usize) -> Self {
        self.repeatable.max_body = bytes;
        self
    }

    /// Also hedges the requests for which `hedge` returns `true`, beyond the default rule
    /// (idempotent methods, or an `Idempotency-Key` header): the explicit opt-in, as
    /// [`HttpRetryLayer::also_retry_if`](crate::retry::HttpRetryLayer::also_retry_if).
    #[must_use]
    pub fn also_hedge_if<F>(mut self, hedge: F) -> Self
    where
        F: Fn(&Parts) -> bool + Send + Sync + 'static,
    {
        self.repeatable.also_if(hedge);
        self
    }

    /// The same layer, classifying with `classifier`.
    pub fn classifier<C2>(self, classifier: C2) -> HttpHedgeLayer<C2> {
        HttpHedgeLayer {
            hedge: self.hedge,
            classifier,
            repeatable: self.repeatable,
        }
    }
}

impl<S, C: Clone> Layer<S> for HttpHedgeLayer<C> {
    type Service = HttpHedgeService<S, C>;

    fn layer(&self, inner: S) -> Self::Service {
        HttpHedgeService {
            inner,
            layer: self.clone(),
        }
    }
}

/// Hedges HTTP requests through a [`Hedge`]; built by [`HttpHedgeLayer`].
///
/// The inner service receives `Request<PrefixedBody<B>>`. A request that may be repeated
/// (the rule of [`HttpRetryService`](crate::retry::HttpRetryService)) has its body read
/// into memory first, up to [`max_body`](HttpHedgeLayer::max_body), so every attempt
/// sends the same bytes (and trailers); any other request, or one with a larger body, is
/// sent once and not hedged (the larger body with an INFO event). Bodies must be `Unpin`.
///
/// # Clone
///
/// Clones share the policy (and the opt-in predicate) and clone the inner service and
/// the classifier.
#[derive(Clone, Debug)]
pub struct HttpHedgeService<S, C = HttpStatus> {
    inner: S,
    layer: HttpHedgeLayer<C>,
}

impl<S, C> HttpHedgeService<S, C> {
    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// Unwraps the service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, C, B, ResBody> Service<Request<B>> for HttpHedgeService<S, C>
where
    S: Service<Request<PrefixedBody<B>>, Response = Response<ResBody>> + Clone,
    S::Error: Into<BoxError>,
    C: Classify<Response<ResBody>, Error> + Clone,
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    type Response = Response<ResBody>;
    type Error = Error;
    type Future = ResponseFuture<S, B, C>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.inner.poll_ready(cx).map_err(Error::wrap)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let clone = self.inner.clone();
        let service = std::mem::replace(&mut self.inner, clone);
        let start = HedgeStart {
            hedge: self.layer.hedge.clone(),
            classifier: self.layer.classifier.clone(),
        };
        ResponseFuture {
            buffered: Buffered::new(&self.layer.repeatable, start, service, request),
        }
    }
}

/// Starts the hedged call once the body is read.
pub(crate) struct HedgeStart<C> {
    hedge: Hedge,
    classifier: C,
}

impl<S, B, C> Start<S, B> for HedgeStart<C>
where
    S: Service<Request<PrefixedBody<B>>>,
    S::Error: Into<BoxError>,
    C: Classify<S::Response, Error> + Clone,
{
    type Future = Hedged<S, Request<PrefixedBody<B>>, C, HttpReplay>;

    fn origin(&self) -> (Primitive, &Name) {
        (Primitive::Hedge, self.hedge.name())
    }

    fn start(
        self,
        service: S,
        request: Request<PrefixedBody<B>>,
        template: Option<HttpReplay>,
    ) -> Self::Future {
        Hedged::new(self.hedge, service, request, template, self.classifier)
    }
}

pin_project! {
    /// Response future of [`HttpHedgeService`]: reads the body into memory, then hedges
    /// (the hedge layer's own [`ResponseFuture`](super::ResponseFuture)).
    #[must_use = "futures do nothing unless polled"]
    pub struct ResponseFuture<S, B, C>
    where
        S: Service<Request<PrefixedBody<B>>>,
        S::Error: Into<BoxError>,
        C: Classify<S::Response, Error>,
        C: Clone,
    {
        #[pin]
        buffered: Buffered<S, B, HedgeStart<C>>,
    }
}

impl<S, B, C, ResBody> Future for ResponseFuture<S, B, C>
where
    S: Service<Request<PrefixedBody<B>>, Response = Response<ResBody>>,
    S::Error: Into<BoxError>,
    C: Classify<Response<ResBody>, Error> + Clone,
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    type Output = Result<Response<ResBody>, Error>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.project().buffered.poll(cx)
    }
}

impl<S, B, C> fmt::Debug for ResponseFuture<S, B, C>
where
    S: Service<Request<PrefixedBody<B>>>,
    S::Error: Into<BoxError>,
    C: Classify<S::Response, Error> + Clone,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture")
            .field("buffered", &self.buffered)
            .finish()
    }
}
