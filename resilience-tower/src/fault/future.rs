use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use pin_project_lite::pin_project;
use resilience_core::fault::Injected;
use resilience_core::outcome::Outcome;
use resilience_core::{BoxError, Error};
use tower_service::Service;

pin_project! {
    /// Response future of [`FaultService`](super::FaultService): the core fault's
    /// [`Injected`] call around the inner service's call, its outcome as
    /// `Result<_, Error>`.
    #[must_use = "futures do nothing unless polled"]
    pub struct ResponseFuture<S, Req, A>
    where
        S: Service<Req>,
    {
        #[pin]
        injected: Injected<Call<S, Req>, A>,
    }
}

impl<S: Service<Req>, Req, A> ResponseFuture<S, Req, A> {
    #[inline(always)]
    pub(crate) fn new(injected: Injected<Call<S, Req>, A>) -> Self {
        Self { injected }
    }
}

impl<S, Req, A> Future for ResponseFuture<S, Req, A>
where
    S: Service<Req>,
    S::Error: Into<BoxError>,
    A: resilience_core::fault::Answer<S::Response, Error>,
{
    type Output = Result<S::Response, Error>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let outcome = ready!(self.project().injected.poll(cx));
        Poll::Ready(outcome.and_then(|result| result))
    }
}

impl<S: Service<Req>, Req, A> std::fmt::Debug for ResponseFuture<S, Req, A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseFuture")
            .field("injected", &self.injected)
            .finish()
    }
}

pin_project! {
    /// The inner call: made at once, made when first polled (after an injected delay:
    /// the request reaches the service late), or never made.
    #[project = CallProj]
    pub(crate) enum Call<S, Req>
    where
        S: Service<Req>,
    {
        Called {
            #[pin]
            future: S::Future,
        },
        Later {
            call: Option<(S, Req)>,
        },
        Never,
    }
}

impl<S, Req> Future for Call<S, Req>
where
    S: Service<Req>,
    S::Error: Into<BoxError>,
{
    type Output = Outcome<S::Response, Error>;

    #[inline]
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        loop {
            match self.as_mut().project() {
                CallProj::Called { future } => {
                    let result = ready!(future.poll(cx));
                    return Poll::Ready(Ok(result.map_err(Error::wrap)));
                }
                CallProj::Later { call } => {
                    let Some((mut service, request)) = call.take() else {
                        panic!("fault `ResponseFuture` polled after completion");
                    };
                    // `service` was made ready before `call` took it out of the stack.
                    let future = service.call(request);
                    self.set(Call::Called { future });
                }
                CallProj::Never => panic!("an injected fault's operation was polled"),
            }
        }
    }
}
