use std::fmt;
use std::future::{Future, IntoFuture};
use std::hash::Hash;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use pin_project_lite::pin_project;
use resilience_core::coalesce::{Coalesced, Coalescer, SharedError};
use resilience_core::{BoxError, Error};
use tower_service::Service;

use super::Shared;

pin_project! {
    /// Response future of [`CoalesceService`](super::CoalesceService): the core
    /// [`Coalesced`] request, its shared answer as this waiter's `Result`.
    #[must_use = "futures do nothing unless polled"]
    pub struct ResponseFuture<S, Req, K>
    where
        S: Service<Req>,
        S::Error: Into<BoxError>,
        K: Hash,
        K: Eq,
    {
        #[pin]
        coalesced: Coalesced<K, Shared<S::Response>, Deferred<S, Req>>,
    }
}

impl<S, Req, K> ResponseFuture<S, Req, K>
where
    S: Service<Req>,
    S::Response: Clone,
    S::Error: Into<BoxError>,
    K: Hash + Eq + Clone,
{
    #[inline(always)]
    pub(crate) fn new(
        coalescer: &Coalescer<K, Shared<S::Response>>,
        key: Option<K>,
        service: S,
        request: Req,
    ) -> Self {
        Self {
            coalesced: Coalesced::new(coalescer, key, Deferred { service, request }),
        }
    }
}

impl<S, Req, K> Future for ResponseFuture<S, Req, K>
where
    S: Service<Req>,
    S::Response: Clone,
    S::Error: Into<BoxError>,
    K: Hash + Eq + Clone,
{
    type Output = Result<S::Response, Error>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let shared = ready!(self.project().coalesced.poll(cx));
        Poll::Ready(shared.map_err(SharedError::into_error))
    }
}

impl<S, Req, K> fmt::Debug for ResponseFuture<S, Req, K>
where
    S: Service<Req>,
    S::Error: Into<BoxError>,
    K: Hash + Eq,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture")
            .field("coalesced", &self.coalesced)
            .finish()
    }
}

/// A request kept with the (ready) service it is for: called at once by a leader, later
/// by a follower only if it takes over.
pub struct Deferred<S, Req> {
    service: S,
    request: Req,
}

impl<S, Req> fmt::Debug for Deferred<S, Req> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Deferred").finish_non_exhaustive()
    }
}

impl<S, Req> IntoFuture for Deferred<S, Req>
where
    S: Service<Req>,
    S::Error: Into<BoxError>,
{
    type Output = Shared<S::Response>;
    type IntoFuture = Call<S::Future>;

    #[inline]
    fn into_future(mut self) -> Call<S::Future> {
        // `service` was made ready before `call` took it out of the stack.
        Call {
            call: self.service.call(self.request),
        }
    }
}

pin_project! {
    /// The inner call, its error made shareable.
    #[derive(Debug)]
    #[must_use = "futures do nothing unless polled"]
    pub struct Call<F> {
        #[pin]
        call: F,
    }
}

impl<F, R, E> Future for Call<F>
where
    F: Future<Output = Result<R, E>>,
    E: Into<BoxError>,
{
    type Output = Shared<R>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let result = ready!(self.project().call.poll(cx));
        Poll::Ready(result.map_err(|err| SharedError::new(Error::wrap(err))))
    }
}
