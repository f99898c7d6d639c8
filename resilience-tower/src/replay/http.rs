//! HTTP requests sent more than once: the rule of which may be ([`Repeatable`]), and the
//! body kept for it ([`Buffered`] reads it, up to a cap, into an [`HttpReplay`]).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http::request::Parts;
use http::{HeaderMap, Method, Request};
use http_body::Body;
use pin_project_lite::pin_project;
use resilience_core::{BoxError, Error, ErrorKind, Name, Primitive};

use super::Replay;
use crate::body::{CappedRead, PrefixedBody, ReadEnd};
use crate::idempotency::IDEMPOTENCY_KEY;

/// The default body cap: 64 KiB.
pub const DEFAULT_MAX_BODY: usize = 64 * 1024;

/// A predicate that opts a request the default rule refuses in.
type RepeatIf = Arc<dyn Fn(&Parts) -> bool + Send + Sync>;

/// Which requests may be sent more than once, and the largest body kept to do it.
#[derive(Clone)]
pub(crate) struct Repeatable {
    pub(crate) max_body: usize,
    pub(crate) also_if: Option<RepeatIf>,
}

impl Default for Repeatable {
    fn default() -> Self {
        Self {
            max_body: DEFAULT_MAX_BODY,
            also_if: None,
        }
    }
}

impl Repeatable {
    /// Whether `parts` may be sent more than once: an idempotent method (RFC 9110
    /// §9.2.2), an `Idempotency-Key` header, or the opt-in predicate.
    pub(crate) fn allows(&self, parts: &Parts) -> bool {
        repeatable_by_default(&parts.method, &parts.headers)
            || self.also_if.as_ref().is_some_and(|also| also(parts))
    }

    /// Opts the requests `also` accepts in.
    pub(crate) fn also_if<F>(&mut self, also: F)
    where
        F: Fn(&Parts) -> bool + Send + Sync + 'static,
    {
        self.also_if = Some(Arc::new(also));
    }
}

/// The default rule of what may be sent more than once: an idempotent method (RFC 9110
/// §9.2.2) or an `Idempotency-Key` header.
pub(crate) fn repeatable_by_default(method: &Method, headers: &http::HeaderMap) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE | Method::PUT | Method::DELETE
    ) || headers.contains_key(IDEMPOTENCY_KEY)
}

impl fmt::Debug for Repeatable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Repeatable")
            .field("max_body", &self.max_body)
            .field("also_if", &self.also_if.as_ref().map(|_| "Fn(&Parts)"))
            .finish()
    }
}

/// A buffered request: the template of every further attempt, the same bytes each time.
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

/// What runs a request once its body is read: the retry or hedge loop.
pub(crate) trait Start<S, B> {
    /// The loop.
    type Future: Future;

    /// The primitive and the instance, for the over-cap event and a body error.
    fn origin(&self) -> (Primitive, &Name);

    /// Starts the loop: `request` is the first attempt's, `template` (if the request may
    /// be sent again) every further one's.
    fn start(
        self,
        service: S,
        request: Request<PrefixedBody<B>>,
        template: Option<HttpReplay>,
    ) -> Self::Future;
}

/// Says that a request is sent once because its body is over the cap.
fn over_cap((primitive, name): (Primitive, &Name), max_body: usize, size: u64) {
    tracing::event!(
        target: "resilience",
        tracing::Level::INFO,
        primitive = primitive.as_str(),
        instance = name.as_str(),
        max_body,
        body_bytes_at_least = size,
        "request body exceeds the replay cap; sent once",
    );
}

/// A request whose body is being read, with what its loop will need.
struct Reading<S, B, St> {
    parts: Parts,
    body: B,
    read: CappedRead,
    service: S,
    start: St,
}

pin_project! {
    /// A request read into memory (up to the cap) before its loop starts, or sent once
    /// without reading when it may not be repeated.
    pub(crate) struct Buffered<S, B, St>
    where
        St: Start<S, B>,
    {
        #[pin]
        state: State<S, B, St>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<S, B, St>
    where
        St: Start<S, B>,
    {
        Reading { reading: Option<Reading<S, B, St>> },
        Running { #[pin] run: St::Future },
    }
}

impl<S, B: Body, St: Start<S, B>> Buffered<S, B, St> {
    /// A call of `request` on `service` (ready): sent once, its body streamed through
    /// untouched, if `repeatable` does not allow it or its size hint is over the cap (said
    /// by an INFO event); read first otherwise.
    pub(crate) fn new(repeatable: &Repeatable, start: St, service: S, request: Request<B>) -> Self {
        let (parts, body) = request.into_parts();
        let allowed = repeatable.allows(&parts);
        let hinted = body.size_hint().lower();
        if !allowed || hinted > repeatable.max_body as u64 {
            if allowed {
                over_cap(start.origin(), repeatable.max_body, hinted);
            }
            let request = Request::from_parts(parts, PrefixedBody::new(body));
            return Self {
                state: State::Running {
                    run: start.start(service, request, None),
                },
            };
        }
        let reading = Reading {
            parts,
            body,
            read: CappedRead::new(repeatable.max_body),
            service,
            start,
        };
        Self {
            state: State::Reading {
                reading: Some(reading),
            },
        }
    }
}

impl<S, B, St, R> Future for Buffered<S, B, St>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
    St: Start<S, B>,
    St::Future: Future<Output = Result<R, Error>>,
{
    type Output = Result<R, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut state = self.project().state;
        let reading = match state.as_mut().project() {
            StateProj::Running { run } => return run.poll(cx),
            StateProj::Reading { reading } => reading,
        };
        let Some(r) = reading.as_mut() else {
            panic!("a replaying `ResponseFuture` polled after completion");
        };
        let end = ready!(r.read.poll_read(Pin::new(&mut r.body), cx));
        let Some(r) = reading.take() else {
            unreachable!("checked above");
        };
        let (request, template) = match end {
            ReadEnd::Whole | ReadEnd::Trailers(_) => {
                let trailers = match end {
                    ReadEnd::Trailers(trailers) => Some(trailers),
                    _ => None,
                };
                let template = HttpReplay {
                    parts: r.parts,
                    data: r.read.into_bytes(),
                    trailers,
                };
                (template.replay(), Some(template))
            }
            ReadEnd::OverCap => {
                over_cap(r.start.origin(), r.read.cap(), r.read.len() as u64);
                let body = PrefixedBody::prefixed(r.read.into_bytes(), r.body);
                (Request::from_parts(r.parts, body), None)
            }
            ReadEnd::Failed(err) => {
                let (primitive, name) = r.start.origin();
                return Poll::Ready(Err(Error::new(ErrorKind::InvalidRequest)
                    .with_primitive(primitive)
                    .with_instance(name.clone())
                    .with_detail("the request body could not be read")
                    .with_source(err)));
            }
        };
        let run = r.start.start(r.service, request, template);
        state.set(State::Running { run });
        let StateProj::Running { run } = state.project() else {
            unreachable!("just set");
        };
        run.poll(cx)
    }
}

impl<S, B, St: Start<S, B>> fmt::Debug for Buffered<S, B, St> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.state {
            State::Reading { .. } => "reading",
            State::Running { .. } => "running",
        };
        f.debug_struct("Buffered").field("state", &state).finish()
    }
}
