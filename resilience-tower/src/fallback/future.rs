use std::fmt;
use std::future::Future;
use std::hash::Hash;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use pin_project_lite::pin_project;
use resilience_core::fallback::{Fallback, Guarded};
use resilience_core::outcome::{self, Wrap};
use resilience_core::{BoxError, Classify, Error};

use super::Mark;

pin_project! {
    /// Response future of [`FallbackService`](super::FallbackService): the core
    /// fallback's [`Guarded`] call around the inner service's future, its answer marked.
    #[must_use = "futures do nothing unless polled"]
    pub struct ResponseFuture<F, T, K, C, M> {
        #[pin]
        guarded: Guarded<Fallback<T, Error, K>, K, C, Wrap<F>>,
        mark: M,
    }
}

impl<F, T, K, C, M> ResponseFuture<F, T, K, C, M> {
    #[inline(always)]
    pub(crate) fn new(
        fallback: Fallback<T, Error, K>,
        key: Option<K>,
        classifier: C,
        call: F,
        mark: M,
    ) -> Self {
        Self {
            guarded: Guarded::keyed(fallback, key, classifier, outcome::wrap(call)),
            mark,
        }
    }
}

impl<F, T, K, C, M, E> Future for ResponseFuture<F, T, K, C, M>
where
    F: Future<Output = Result<T, E>>,
    E: Into<BoxError>,
    K: Hash + Eq,
    C: Classify<T, Error>,
    M: Mark<T>,
{
    type Output = Result<T, Error>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let answered = ready!(this.guarded.poll(cx));
        let mut result = answered.outcome.and_then(|result| result);
        if let (Some(used), Ok(response)) = (answered.fallback, &mut result) {
            this.mark.mark(response, used);
        }
        Poll::Ready(result)
    }
}

impl<F, T, K, C, M> fmt::Debug for ResponseFuture<F, T, K, C, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture")
            .field("guarded", &self.guarded)
            .finish_non_exhaustive()
    }
}
