use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use http::{Request, Response};
use pin_project_lite::pin_project;
use resilience_core::rate_limit::{Acquire, Grant};
use resilience_core::{BoxError, Error};
use tower_service::Service;

use super::Stamp;

pin_project! {
    /// Response future of [`RateLimitService`](super::RateLimitService): calls the inner
    /// service once a turn is granted (at once on the fast path), then stamps the
    /// response with the `RateLimit` headers when the layer writes them.
    pub struct ResponseFuture<S, Req>
    where
        S: Service<Req>,
    {
        #[pin]
        state: State<S, Req>,
        stamp: Option<(Arc<Stamp>, Grant)>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<S, Req>
    where
        S: Service<Req>,
    {
        Called {
            #[pin]
            future: S::Future,
        },
        Waiting {
            acquire: Acquire,
            call: Option<(S, Req)>,
            stamp: Option<Arc<Stamp>>,
        },
        Failed {
            error: Option<Error>,
        },
    }
}

impl<S: Service<Req>, Req> ResponseFuture<S, Req> {
    pub(crate) fn called(future: S::Future, stamp: Option<(Arc<Stamp>, Grant)>) -> Self {
        Self {
            state: State::Called { future },
            stamp,
        }
    }

    pub(crate) fn waiting(
        acquire: Acquire,
        service: S,
        request: Req,
        stamp: Option<Arc<Stamp>>,
    ) -> Self {
        Self {
            state: State::Waiting {
                acquire,
                call: Some((service, request)),
                stamp,
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

impl<S, B, ResB> Future for ResponseFuture<S, Request<B>>
where
    S: Service<Request<B>, Response = Response<ResB>>,
    S::Error: Into<BoxError>,
{
    type Output = Result<Response<ResB>, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            match this.state.as_mut().project() {
                StateProj::Called { future } => {
                    let mut response = ready!(future.poll(cx)).map_err(Error::inner)?;
                    if let Some((stamp, grant)) = this.stamp.take() {
                        stamp.apply(&grant, response.headers_mut());
                    }
                    return Poll::Ready(Ok(response));
                }
                StateProj::Waiting {
                    acquire,
                    call,
                    stamp,
                } => {
                    let grant = ready!(Pin::new(acquire).poll(cx))?;
                    let Some((mut service, request)) = call.take() else {
                        panic!("rate limit `ResponseFuture` polled after completion");
                    };
                    *this.stamp = stamp.take().map(|stamp| (stamp, grant));
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

impl<S: Service<Req>, Req> fmt::Debug for ResponseFuture<S, Req> {
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
