use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use pin_project_lite::pin_project;
use resilience_core::BoxError;
use resilience_core::Error;
use resilience_core::deadline::Enforce;

pin_project! {
    /// Response future of [`DeadlineService`](super::DeadlineService) and
    /// [`PropagateDeadlineService`](super::PropagateDeadlineService): the inner future,
    /// under the core's [`Enforce`] when a deadline applies.
    #[derive(Debug)]
    #[must_use = "futures do nothing unless polled"]
    pub struct ResponseFuture<F> {
        #[pin]
        state: State<F>,
    }
}

pin_project! {
    #[project = StateProj]
    #[derive(Debug)]
    enum State<F> {
        Unbounded { #[pin] future: F },
        Bounded { #[pin] future: Enforce<F> },
        Failed { error: Option<Error> },
    }
}

impl<F> ResponseFuture<F> {
    #[inline(always)]
    pub(crate) fn unbounded(future: F) -> Self {
        Self {
            state: State::Unbounded { future },
        }
    }

    #[inline(always)]
    pub(crate) fn bounded(future: Enforce<F>) -> Self {
        Self {
            state: State::Bounded { future },
        }
    }

    #[inline(always)]
    pub(crate) fn failed(error: Error) -> Self {
        Self {
            state: State::Failed { error: Some(error) },
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
        let output = match self.project().state.project() {
            StateProj::Unbounded { future } => ready!(future.poll(cx)).map_err(Error::wrap),
            StateProj::Bounded { future } => match ready!(future.poll(cx)) {
                Ok(result) => result.map_err(Error::wrap),
                Err(exceeded) => Err(exceeded),
            },
            StateProj::Failed { error } => match error.take() {
                Some(err) => Err(err),
                None => panic!("`ResponseFuture` polled after completion"),
            },
        };
        Poll::Ready(output)
    }
}
