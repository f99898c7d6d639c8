use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use http::Response;
use pin_project_lite::pin_project;
use resilience_core::{BoxError, Error};

use crate::body::PrefixedBody;
use crate::http::ProblemConfig;
use crate::http::problem::{report_and_respond, report_and_respond_grpc};

pin_project! {
    /// Response future of [`HttpErrorService`](super::HttpErrorService).
    #[derive(Debug)]
    #[must_use = "futures do nothing unless polled"]
    pub struct ResponseFuture<F> {
        #[pin]
        state: State<F>,
        config: Arc<ProblemConfig>,
        grpc: bool,
    }
}

pin_project! {
    #[project = StateProj]
    #[derive(Debug)]
    enum State<F> {
        Called { #[pin] future: F },
        Failed { error: Option<Error> },
    }
}

impl<F> ResponseFuture<F> {
    pub(crate) fn called(future: F, config: Arc<ProblemConfig>, grpc: bool) -> Self {
        Self {
            state: State::Called { future },
            config,
            grpc,
        }
    }

    pub(crate) fn failed(error: Error, config: Arc<ProblemConfig>, grpc: bool) -> Self {
        Self {
            state: State::Failed { error: Some(error) },
            config,
            grpc,
        }
    }
}

fn problem_response<B>(
    config: &ProblemConfig,
    grpc: bool,
    err: &Error,
) -> Response<PrefixedBody<B>> {
    let response = if grpc {
        report_and_respond_grpc(err)
    } else {
        report_and_respond(config, err)
    };
    response.map(|body| PrefixedBody::held(body, None))
}

impl<F, B, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
    E: Into<BoxError>,
{
    type Output = Result<Response<PrefixedBody<B>>, std::convert::Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let response = match this.state.project() {
            StateProj::Called { future } => match ready!(future.poll(cx)) {
                Ok(response) => response.map(PrefixedBody::new),
                Err(err) => problem_response(this.config, *this.grpc, &Error::from(err.into())),
            },
            StateProj::Failed { error } => match error.take() {
                Some(err) => problem_response(this.config, *this.grpc, &err),
                None => panic!("`ResponseFuture` polled after completion"),
            },
        };
        Poll::Ready(Ok(response))
    }
}
