use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use pin_project_lite::pin_project;
use resilience_core::circuit_breaker::OwnedPermit;
use resilience_core::{BoxError, Classify, Error};

pin_project! {
    /// Response future of [`CircuitBreaker`](super::CircuitBreaker): records the outcome
    /// when the inner future completes, and a failure when it panics. Dropping it before
    /// then counts as the [`Permit`](resilience_core::circuit_breaker::Permit) docs say: a
    /// timeout once the ambient deadline has passed, else a cancelled call, not counted,
    /// which frees a half-open probe slot at once.
    #[derive(Debug)]
    pub struct ResponseFuture<F, C> {
        #[pin]
        state: State<F>,
        permit: Option<OwnedPermit>,
        classifier: C,
    }
}

pin_project! {
    #[project = StateProj]
    #[derive(Debug)]
    enum State<F> {
        Called { #[pin] future: F },
        Rejected { error: Option<Error> },
    }
}

impl<F, C> ResponseFuture<F, C> {
    pub(crate) fn called(future: F, permit: OwnedPermit, classifier: C) -> Self {
        Self {
            state: State::Called { future },
            permit: Some(permit),
            classifier,
        }
    }

    pub(crate) fn rejected(error: Error, classifier: C) -> Self {
        Self {
            state: State::Rejected { error: Some(error) },
            permit: None,
            classifier,
        }
    }
}

impl<F, C, T, E> Future for ResponseFuture<F, C>
where
    F: Future<Output = Result<T, E>>,
    E: Into<BoxError> + 'static,
    C: Classify<T, E>,
{
    type Output = Result<T, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        match this.state.project() {
            StateProj::Called { future } => {
                // A panic in the call counts as a failure (the permit is not dropped while
                // it unwinds: this future is a field of whatever polled it).
                let polled = match this.permit {
                    Some(permit) => permit.fail_on_panic(|| future.poll(cx)),
                    None => future.poll(cx),
                };
                let result = ready!(polled);
                if let Some(permit) = this.permit.take() {
                    permit.record_result(this.classifier, &result);
                }
                Poll::Ready(result.map_err(Error::inner))
            }
            StateProj::Rejected { error } => Poll::Ready(Err(error
                .take()
                .expect("ResponseFuture polled after completion"))),
        }
    }
}
