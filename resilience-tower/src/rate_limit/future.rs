use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use pin_project_lite::pin_project;
use resilience_core::rate_limit::Acquire;
use resilience_core::{BoxError, Error};
use tower_service::Service;

use super::stamp::Stamp;

pin_project! {
    /// Response future of [`RateLimitService`](super::RateLimitService): calls the inner
    /// service once a turn is granted (at once on the fast path), then stamps the
    /// response as the layer was told to.
    pub struct ResponseFuture<S, Req, H>
    where
        S: Service<Req>,
        H: Stamp<S::Response>,
    {
        #[pin]
        state: State<S, Req, H>,
        stamp: Option<H::Pending>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<S, Req, H>
    where
        S: Service<Req>,
    {
        Called {
            #[pin]
            future: S::Future,
        },
        // Boxed: waiting is the slow path, and the request and service it holds would
        // otherwise make every response future as large as they are.
        Waiting {
            waiting: Box<Waiting<S, Req, H>>,
        },
        Failed {
            error: Option<Error>,
        },
    }
}

struct Waiting<S, Req, H> {
    acquire: Acquire,
    call: Option<(S, Req)>,
    stamp: H,
}

impl<S: Service<Req>, Req, H: Stamp<S::Response>> ResponseFuture<S, Req, H> {
    #[inline]
    pub(crate) fn called(future: S::Future, stamp: Option<H::Pending>) -> Self {
        Self {
            state: State::Called { future },
            stamp,
        }
    }

    pub(crate) fn waiting(acquire: Acquire, service: S, request: Req, stamp: H) -> Self {
        Self {
            state: State::Waiting {
                waiting: Box::new(Waiting {
                    acquire,
                    call: Some((service, request)),
                    stamp,
                }),
            },
            stamp: None,
        }
    }

    pub(crate) fn failed(error: Error) -> Self {
        Self {
            state: State::Failed { error: Some(error) },
            stamp: None,
        }
    }
}

impl<S, Req, H> Future for ResponseFuture<S, Req, H>
where
    S: Service<Req>,
    S::Error: Into<BoxError>,
    H: Stamp<S::Response>,
{
    type Output = Result<S::Response, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            match this.state.as_mut().project() {
                StateProj::Called { future } => {
                    let outcome = ready!(future.poll(cx)).map_err(Error::inner);
                    return Poll::Ready(match this.stamp.take() {
                        None => outcome,
                        Some(pending) => outcome.map(|mut response| {
                            H::apply(pending, &mut response);
                            response
                        }),
                    });
                }
                StateProj::Waiting { waiting } => {
                    let grant = ready!(Pin::new(&mut waiting.acquire).poll(cx))?;
                    let Some((mut service, request)) = waiting.call.take() else {
                        panic!("rate limit `ResponseFuture` polled after completion");
                    };
                    *this.stamp = waiting.stamp.pending(grant);
                    // `service` was made ready before `call` took it out of the stack.
                    let future = service.call(request);
                    this.state.set(State::Called { future });
                }
                StateProj::Failed { error } => {
                    let error = error
                        .take()
                        .expect("rate limit `ResponseFuture` polled after completion");
                    return Poll::Ready(Err(error));
                }
            }
        }
    }
}

impl<S, Req, H> fmt::Debug for ResponseFuture<S, Req, H>
where
    S: Service<Req>,
    H: Stamp<S::Response>,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.state {
            State::Called { .. } => "called",
            State::Waiting { .. } => "waiting",
            State::Failed { .. } => "failed",
        };
        f.debug_struct("ResponseFuture")
            .field("state", &state)
            .finish()
    }
}
