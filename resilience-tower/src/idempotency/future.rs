use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use http::Response;
use pin_project_lite::pin_project;
use resilience_core::idempotency::BoxFuture;
use resilience_core::{BoxError, Error};

use crate::body::PrefixedBody;

type Protected<B> = BoxFuture<'static, Result<Response<PrefixedBody<B>>, Error>>;

pin_project! {
    /// Response future of [`IdempotencyService`](super::IdempotencyService).
    ///
    /// Requests the layer does not protect poll the inner future directly, without
    /// allocating; a rejection decided in `call` is ready at once; a protected request
    /// (key present) runs as one boxed future, since it awaits the store and buffers
    /// bodies anyway.
    pub struct ResponseFuture<F, B> {
        #[pin]
        kind: Kind<F, B>,
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind<F, B> {
        Passthrough { #[pin] future: F },
        Rejected { error: Option<Error> },
        Protected { future: Protected<B> },
    }
}

impl<F, B> ResponseFuture<F, B> {
    pub(crate) fn passthrough(future: F) -> Self {
        Self {
            kind: Kind::Passthrough { future },
        }
    }

    pub(crate) fn rejected(error: Error) -> Self {
        Self {
            kind: Kind::Rejected { error: Some(error) },
        }
    }

    pub(crate) fn protected(future: Protected<B>) -> Self {
        Self {
            kind: Kind::Protected { future },
        }
    }
}

impl<F, B> fmt::Debug for ResponseFuture<F, B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match &self.kind {
            Kind::Passthrough { .. } => "passthrough",
            Kind::Rejected { .. } => "rejected",
            Kind::Protected { .. } => "protected",
        };
        f.debug_struct("ResponseFuture")
            .field("kind", &kind)
            .finish()
    }
}

impl<F, B, E> Future for ResponseFuture<F, B>
where
    F: Future<Output = Result<Response<B>, E>>,
    E: Into<BoxError>,
{
    type Output = Result<Response<PrefixedBody<B>>, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            KindProj::Passthrough { future } => Poll::Ready(match ready!(future.poll(cx)) {
                Ok(response) => Ok(response.map(PrefixedBody::new)),
                Err(err) => Err(Error::wrap(err)),
            }),
            KindProj::Rejected { error } => match error.take() {
                Some(err) => Poll::Ready(Err(err)),
                None => panic!("ResponseFuture polled after completion"),
            },
            KindProj::Protected { future } => future.as_mut().poll(cx),
        }
    }
}
