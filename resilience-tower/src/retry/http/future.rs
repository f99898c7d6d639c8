use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http::request::Parts;
use http::{HeaderMap, Request, Response};
use http_body::Body;
use pin_project_lite::pin_project;
use resilience_core::retry::RetryPolicy;
use resilience_core::{BoxError, Classify, Error, ErrorKind, Primitive};
use tower_service::Service;

use super::{Settings, over_cap};
use crate::body::{CappedRead, PrefixedBody, ReadEnd};
use crate::retry::future::{Replay, ResponseFuture as Retried};

/// A buffered request: the template of every attempt.
#[derive(Debug)]
pub(crate) struct HttpReplay {
    parts: Parts,
    data: Bytes,
    trailers: Option<HeaderMap>,
}

impl<B> Replay<Request<PrefixedBody<B>>> for HttpReplay {
    fn replay(&self) -> Request<PrefixedBody<B>> {
        Request::from_parts(
            self.parts.clone(),
            PrefixedBody::held(self.data.clone(), self.trailers.clone()),
        )
    }
}

type Attempts<S, B, C> = Retried<S, Request<PrefixedBody<B>>, C, HttpReplay>;

/// A request whose body is being read, with what its attempts will need.
struct Buffering<S, B, C> {
    parts: Parts,
    body: B,
    read: CappedRead,
    service: S,
    classifier: C,
    policy: RetryPolicy,
}

pin_project! {
    /// Response future of [`HttpRetryService`](super::HttpRetryService): reads the body
    /// into memory, then runs the attempts (the retry layer's own
    /// [`ResponseFuture`](crate::retry::ResponseFuture)).
    #[must_use = "futures do nothing unless polled"]
    pub struct ResponseFuture<S, B, C>
    where
        S: Service<Request<PrefixedBody<B>>>,
        S::Error: Into<BoxError>,
        C: Classify<S::Response, Error>,
        C: Clone,
    {
        #[pin]
        state: State<S, B, C>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<S, B, C>
    where
        S: Service<Request<PrefixedBody<B>>>,
        S::Error: Into<BoxError>,
        C: Classify<S::Response, Error>,
        C: Clone,
    {
        Buffering { buffering: Option<Buffering<S, B, C>> },
        Running { #[pin] attempts: Attempts<S, B, C> },
    }
}

impl<S, B, C> ResponseFuture<S, B, C>
where
    S: Service<Request<PrefixedBody<B>>>,
    S::Error: Into<BoxError>,
    C: Classify<S::Response, Error> + Clone,
{
    /// A request sent once: its attempts cannot be repeated.
    pub(super) fn once(
        settings: &Settings<C>,
        service: S,
        request: Request<PrefixedBody<B>>,
    ) -> Self {
        let attempts = Retried::new(
            settings.policy.clone(),
            service,
            request,
            None,
            settings.classifier.clone(),
        );
        Self {
            state: State::Running { attempts },
        }
    }

    /// A request whose body is read first.
    pub(super) fn buffering(settings: &Settings<C>, service: S, parts: Parts, body: B) -> Self {
        let buffering = Buffering {
            parts,
            body,
            read: CappedRead::new(settings.max_body),
            service,
            classifier: settings.classifier.clone(),
            policy: settings.policy.clone(),
        };
        Self {
            state: State::Buffering {
                buffering: Some(buffering),
            },
        }
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

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut state = self.project().state;
        let buffering = match state.as_mut().project() {
            StateProj::Running { attempts } => return attempts.poll(cx),
            StateProj::Buffering { buffering } => buffering,
        };
        let Some(b) = buffering.as_mut() else {
            panic!("`ResponseFuture` polled after completion");
        };
        let end = ready!(b.read.poll_read(Pin::new(&mut b.body), cx));
        let Some(b) = buffering.take() else {
            unreachable!("checked above");
        };
        let (request, template) = match end {
            ReadEnd::Whole | ReadEnd::Trailers(_) => {
                let trailers = match end {
                    ReadEnd::Trailers(trailers) => Some(trailers),
                    _ => None,
                };
                let template = HttpReplay {
                    parts: b.parts,
                    data: b.read.into_bytes(),
                    trailers,
                };
                (template.replay(), Some(template))
            }
            ReadEnd::OverCap => {
                over_cap(&b.policy, b.read.cap(), b.read.len() as u64);
                let body = PrefixedBody::prefixed(b.read.into_bytes(), b.body);
                (Request::from_parts(b.parts, body), None)
            }
            ReadEnd::Failed(err) => {
                return Poll::Ready(Err(Error::new(ErrorKind::InvalidRequest)
                    .with_primitive(Primitive::Retry)
                    .with_instance(b.policy.name().clone())
                    .with_detail("the request body could not be read")
                    .with_source(err)));
            }
        };
        let attempts = Retried::new(b.policy, b.service, request, template, b.classifier);
        state.set(State::Running { attempts });
        let StateProj::Running { attempts } = state.project() else {
            unreachable!("just set");
        };
        attempts.poll(cx)
    }
}

impl<S, B, C> fmt::Debug for ResponseFuture<S, B, C>
where
    S: Service<Request<PrefixedBody<B>>>,
    S::Error: Into<BoxError>,
    C: Classify<S::Response, Error> + Clone,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.state {
            State::Buffering { .. } => "buffering",
            State::Running { .. } => "running",
        };
        f.debug_struct("ResponseFuture")
            .field("state", &state)
            .finish()
    }
}
