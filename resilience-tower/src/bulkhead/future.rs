use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use pin_project_lite::pin_project;
use resilience_core::bulkhead::{Acquire, Permit};
use resilience_core::{BoxError, Error};
use tower_service::Service;

pin_project! {
    /// Response future of [`Bulkhead`](super::Bulkhead): holds the permit while the inner
    /// call runs and releases it when that call completes or this future is dropped.
    pub struct ResponseFuture<S, Req>
    where
        S: Service<Req>,
    {
        #[pin]
        state: State<S, Req>,
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
            permit: Option<Permit>,
        },
        Waiting {
            acquire: Acquire,
            call: Option<(S, Req)>,
        },
        Failed {
            error: Option<Error>,
        },
    }
}

impl<S: Service<Req>, Req> ResponseFuture<S, Req> {
    pub(crate) fn called(future: S::Future, permit: Permit) -> Self {
        Self {
            state: State::Called {
                future,
                permit: Some(permit),
            },
        }
    }

    pub(crate) fn waiting(acquire: Acquire, service: S, request: Req) -> Self {
        Self {
            state: State::Waiting {
                acquire,
                call: Some((service, request)),
            },
        }
    }

    pub(crate) fn failed(error: Error) -> Self {
        Self {
            state: State::Failed { error: Some(error) },
        }
    }
}

impl<S, Req> Future for ResponseFuture<S, Req>
where
    S: Service<Req>,
    S::Error: Into<BoxError>,
{
    type Output = Result<S::Response, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut state = self.project().state;
        loop {
            match state.as_mut().project() {
                StateProj::Called { future, permit } => {
                    let outcome = ready!(future.poll(cx));
                    // Free the slot as soon as the inner call is done.
                    drop(permit.take());
                    return Poll::Ready(outcome.map_err(Error::wrap));
                }
                StateProj::Waiting { acquire, call } => {
                    let permit = ready!(Pin::new(acquire).poll(cx))?;
                    let Some((mut service, request)) = call.take() else {
                        panic!("bulkhead `ResponseFuture` polled after completion");
                    };
                    // `service` was made ready before `call` took it out of the stack.
                    let future = service.call(request);
                    state.set(State::Called {
                        future,
                        permit: Some(permit),
                    });
                }
                StateProj::Failed { error } => {
                    let error = error
                        .take()
                        .expect("bulkhead `ResponseFuture` polled after completion");
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
