use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use pin_project_lite::pin_project;
use resilience_core::health::InFlight;
use resilience_core::{BoxError, Error};

pin_project! {
    /// Response future of [`DrainService`](super::DrainService): counts the request in
    /// flight until the inner call completes or this future is dropped.
    pub struct ResponseFuture<F> {
        #[pin]
        state: State<F>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F> {
        Called {
            #[pin]
            future: F,
            in_flight: Option<InFlight>,
        },
        Refused {
            error: Option<Error>,
        },
    }
}

impl<F> ResponseFuture<F> {
    pub(crate) fn called(future: F, in_flight: InFlight) -> Self {
        Self {
            state: State::Called {
                future,
                in_flight: Some(in_flight),
            },
        }
    }

    pub(crate) fn refused(error: Error) -> Self {
        Self {
            state: State::Refused { error: Some(error) },
        }
    }
}

impl<F, T, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<T, E>>,
    E: Into<BoxError>,
{
    type Output = Result<T, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            StateProj::Called { future, in_flight } => {
                let outcome = ready!(future.poll(cx));
                // Count the request out as soon as it is answered.
                drop(in_flight.take());
                Poll::Ready(outcome.map_err(Error::wrap))
            }
            StateProj::Refused { error } => Poll::Ready(Err(error
                .take()
                .expect("drain `ResponseFuture` polled after completion"))),
        }
    }
}

impl<F> fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.state {
            State::Called { .. } => "called",
            State::Refused { .. } => "refused",
        };
        f.debug_struct("ResponseFuture")
            .field("state", &state)
            .finish()
    }
}
