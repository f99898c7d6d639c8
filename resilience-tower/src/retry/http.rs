//! [`HttpRetry`]: retries for `http::Request`s, with a capped replayable body and the
//! idempotency rule.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::{Bytes, BytesMut};
use http::{HeaderMap, Method, Request, Response};
use http_body::Body;
use pin_project_lite::pin_project;
use resilience_core::retry::{RetryCall, RetryPolicy};
use resilience_core::{BoxError, Classify, Error, ErrorKind, Primitive};
use tower_service::Service;

use super::body::ReplayBody;
use super::future::{Replay, ResponseFuture};
use crate::http::HttpStatus;

/// The header that makes a non-idempotent request safe to retry (IETF draft
/// `Idempotency-Key`).
const IDEMPOTENCY_KEY: &str = "idempotency-key";

/// Retries HTTP requests through a [`RetryPolicy`].
///
/// The inner service receives `Request<ReplayBody<B>>`. Before the first attempt of a
/// retryable request, the body is read into memory, up to
/// [`max_body`](HttpRetry::max_body) bytes, so that every attempt sends the same bytes
/// (and trailers). A request is sent **once, not retried** when
///
/// - its method is not idempotent (anything but `GET`, `HEAD`, `OPTIONS`, `TRACE`,
///   `PUT`, `DELETE`: the idempotent methods of RFC 9110 §9.2.2) and it has no `Idempotency-Key` header: its body is streamed through
///   untouched; or
/// - its body is larger than `max_body` (by its size hint, or found while reading it):
///   what was read is sent first, then the rest is streamed, and an INFO event
///   (target `resilience`) says so.
///
/// Bodies must be `Unpin` (hyper's `Incoming`, axum's `Body` and `Full` are).
///
/// Responses are classified with [`HttpStatus`] by default: a `503` with
/// `Retry-After: 2` is retried, not before 2 s; a `404` is returned as it is.
///
/// # Clone
///
/// Clones share the policy and clone the inner service and the classifier.
#[derive(Clone, Debug)]
pub struct HttpRetry<S, C = HttpStatus> {
    inner: S,
    policy: RetryPolicy,
    classifier: C,
    max_body: usize,
}

impl<S> HttpRetry<S> {
    /// The default body cap: 64 KiB.
    pub const DEFAULT_MAX_BODY: usize = 64 * 1024;
}

impl<S, C> HttpRetry<S, C> {
    /// Wraps `inner` with the default body cap.
    pub const fn new(inner: S, policy: RetryPolicy, classifier: C) -> Self {
        Self {
            inner,
            policy,
            classifier,
            max_body: HttpRetry::<()>::DEFAULT_MAX_BODY,
        }
    }

    /// The largest body kept for replay, in bytes.
    #[must_use]
    pub const fn max_body(mut self, bytes: usize) -> Self {
        self.max_body = bytes;
        self
    }

    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }
}

/// Whether a request may be sent more than once by default.
fn is_retryable_request<B>(request: &Request<B>) -> bool {
    matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE | Method::PUT | Method::DELETE
    ) || request.headers().contains_key(IDEMPOTENCY_KEY)
}

/// A buffered request: the template of every attempt.
#[derive(Debug)]
pub(crate) struct HttpReplay {
    parts: http::request::Parts,
    data: Bytes,
    trailers: Option<HeaderMap>,
}

impl<B> Replay<Request<ReplayBody<B>>> for HttpReplay {
    fn replay(&self) -> Request<ReplayBody<B>> {
        Request::from_parts(
            self.parts.clone(),
            ReplayBody::buffered(self.data.clone(), self.trailers.clone()),
        )
    }
}

impl<S, C, B, ResBody> Service<Request<B>> for HttpRetry<S, C>
where
    S: Service<Request<ReplayBody<B>>, Response = Response<ResBody>> + Clone,
    S::Error: Into<BoxError> + 'static,
    C: Classify<Response<ResBody>, S::Error> + Clone,
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    type Response = Response<ResBody>;
    type Error = Error;
    type Future = HttpRetryFuture<S, B, C>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.inner.poll_ready(cx).map_err(Error::wrap)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let call = self.policy.start();
        let clone = self.inner.clone();
        let service = std::mem::replace(&mut self.inner, clone);
        let classifier = self.classifier.clone();
        let policy = self.policy.clone();
        let retryable = is_retryable_request(&request);
        let (parts, body) = request.into_parts();
        let hinted = body.size_hint().lower();
        if !retryable || hinted > self.max_body as u64 {
            if retryable {
                over_cap(&policy, self.max_body, hinted);
            }
            let request = Request::from_parts(parts, ReplayBody::streaming(Bytes::new(), body));
            let future = ResponseFuture::new(service, request, None, classifier, policy, call);
            return HttpRetryFuture::running(future);
        }
        HttpRetryFuture {
            state: State::Buffering {
                pending: Some(Pending {
                    parts,
                    body,
                    chunks: Vec::new(),
                    len: 0,
                    max_body: self.max_body,
                    service,
                    classifier,
                    policy,
                    call,
                }),
            },
        }
    }
}

fn over_cap(policy: &RetryPolicy, max_body: usize, size: u64) {
    tracing::event!(
        target: "resilience",
        tracing::Level::INFO,
        retry.name = policy.name().as_str(),
        max_body,
        body_bytes_at_least = size,
        "retry: request body exceeds the replay cap; sent once, not retried",
    );
}

struct Pending<S, B, C> {
    parts: http::request::Parts,
    body: B,
    chunks: Vec<Bytes>,
    len: usize,
    max_body: usize,
    service: S,
    classifier: C,
    policy: RetryPolicy,
    call: RetryCall,
}

pin_project! {
    /// Response future of [`HttpRetry`]: reads the body into memory, then runs the
    /// attempts.
    #[must_use = "futures do nothing unless polled"]
    pub struct HttpRetryFuture<S, B, C>
    where
        S: Service<Request<ReplayBody<B>>>,
    {
        #[pin]
        state: State<S, B, C>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<S, B, C>
    where
        S: Service<Request<ReplayBody<B>>>,
    {
        Buffering { pending: Option<Pending<S, B, C>> },
        Running { #[pin] future: ResponseFuture<S, Request<ReplayBody<B>>, C, HttpReplay> },
    }
}

impl<S, B, C> HttpRetryFuture<S, B, C>
where
    S: Service<Request<ReplayBody<B>>>,
{
    fn running(future: ResponseFuture<S, Request<ReplayBody<B>>, C, HttpReplay>) -> Self {
        Self {
            state: State::Running { future },
        }
    }
}

fn concat(chunks: Vec<Bytes>, len: usize) -> Bytes {
    match <[Bytes; 1]>::try_from(chunks) {
        Ok([one]) => one,
        Err(chunks) => {
            let mut all = BytesMut::with_capacity(len);
            chunks.iter().for_each(|c| all.extend_from_slice(c));
            all.freeze()
        }
    }
}

impl<S, B, C, ResBody> Future for HttpRetryFuture<S, B, C>
where
    S: Service<Request<ReplayBody<B>>, Response = Response<ResBody>>,
    S::Error: Into<BoxError> + 'static,
    C: Classify<Response<ResBody>, S::Error>,
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    type Output = Result<Response<ResBody>, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            let pending = match this.state.as_mut().project() {
                StateProj::Running { future } => return future.poll(cx),
                StateProj::Buffering { pending } => pending,
            };
            let Some(p) = pending.as_mut() else {
                panic!("HttpRetryFuture polled after completion");
            };
            let (template, request) = match ready!(Pin::new(&mut p.body).poll_frame(cx)) {
                Some(Ok(frame)) => match frame.into_data() {
                    Ok(data) if p.len + data.len() > p.max_body => {
                        let Some(p) = pending.take() else { continue };
                        over_cap(&p.policy, p.max_body, (p.len + data.len()) as u64);
                        let mut chunks = p.chunks;
                        chunks.push(data);
                        let prefix = concat(chunks, p.len);
                        let body = ReplayBody::streaming(prefix, p.body);
                        let request = Request::from_parts(p.parts, body);
                        let future = ResponseFuture::new(
                            p.service,
                            request,
                            None,
                            p.classifier,
                            p.policy,
                            p.call,
                        );
                        this.state.set(State::Running { future });
                        continue;
                    }
                    Ok(data) => {
                        p.len += data.len();
                        if !data.is_empty() {
                            p.chunks.push(data);
                        }
                        continue;
                    }
                    Err(frame) => {
                        let Some(p) = pending.take() else { continue };
                        let template = HttpReplay {
                            parts: p.parts,
                            data: concat(p.chunks, p.len),
                            trailers: frame.into_trailers().ok(),
                        };
                        let request = template.replay();
                        (
                            Some((template, p.service, p.classifier, p.policy, p.call)),
                            request,
                        )
                    }
                },
                None => {
                    let Some(p) = pending.take() else { continue };
                    let template = HttpReplay {
                        parts: p.parts,
                        data: concat(p.chunks, p.len),
                        trailers: None,
                    };
                    let request = template.replay();
                    (
                        Some((template, p.service, p.classifier, p.policy, p.call)),
                        request,
                    )
                }
                Some(Err(err)) => {
                    let name = p.policy.name().clone();
                    pending.take();
                    return Poll::Ready(Err(Error::new(ErrorKind::InvalidRequest)
                        .with_primitive(Primitive::Retry)
                        .with_instance(name)
                        .with_detail("the request body could not be read")
                        .with_source(err)));
                }
            };
            if let Some((template, service, classifier, policy, call)) = template {
                let future =
                    ResponseFuture::new(service, request, Some(template), classifier, policy, call);
                this.state.set(State::Running { future });
            }
        }
    }
}

impl<S, B, C> std::fmt::Debug for HttpRetryFuture<S, B, C>
where
    S: Service<Request<ReplayBody<B>>>,
{
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpRetryFuture").finish_non_exhaustive()
    }
}
