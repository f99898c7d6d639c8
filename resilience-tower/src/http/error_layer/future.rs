use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use http::Response;
use pin_project_lite::pin_project;
use resilience_core::{BoxError, Error};

use crate::http::problem::{report_and_respond, report_and_respond_grpc};
use crate::http::{HttpErrorBody, ProblemConfig};

pin_project! {
    /// Response future of [`HttpErrorService`](super::HttpErrorService).
    #[derive(Debug)]
    pub struct HttpErrorFuture<F> {
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

impl<F> HttpErrorFuture<F> {
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
) -> Response<HttpErrorBody<B>> {
    let response = if grpc {
        report_and_respond_grpc(err)
    } else {
        report_and_respond(config, err)
    };
    response.map(HttpErrorBody::problem)
}

impl<F, B, E> Future for HttpErrorFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
    E: Into<BoxError>,
{
    type Output = Result<Response<HttpErrorBody<B>>, std::convert::Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let response = match this.state.project() {
            StateProj::Called { future } => match ready!(future.poll(cx)) {
                Ok(response) => response.map(HttpErrorBody::inner),
                Err(err) => problem_response(this.config, *this.grpc, &Error::from(err.into())),
            },
            StateProj::Failed { error } => match error.take() {
                Some(err) => problem_response(this.config, *this.grpc, &err),
                None => panic!("HttpErrorFuture polled after completion"),
            },
        };
        Poll::Ready(Ok(response))
    }
}
