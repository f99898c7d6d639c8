//! [`Guarded`]: one call through a [`Fallback`] — the one place its work is written; the
//! tower layer and `#[resilient(fallback = ...)]` wrap this future.

use std::borrow::Borrow;
use std::fmt;
use std::future::Future;
use std::hash::Hash;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use pin_project_lite::pin_project;

use super::{Answered, Fallback, settle};
use crate::Classify;
use crate::outcome::Outcome;

pin_project! {
    /// A call through a [`Fallback`]: runs the operation (a future producing an
    /// [`Outcome`]), classifies its outcome, and answers a failure that triggers the
    /// fallback (see the [module docs](super)); a success of a
    /// [stale](super::FallbackBuilder::stale) fallback is kept for `key`. The output says
    /// whether the fallback answered.
    ///
    /// `P` is the fallback, owned or borrowed. Made by [`Fallback::guard`] or
    /// [`Guarded::new`].
    #[must_use = "futures do nothing unless polled"]
    pub struct Guarded<P, K, C, F> {
        fallback: P,
        // The key its success is kept for and a stale answer looked up by; `None`: no
        // key that tells the caller apart (nothing kept, no stale answer).
        key: Option<K>,
        classifier: C,
        #[pin]
        operation: F,
    }
}

impl<P, K, C, F> Guarded<P, K, C, F> {
    /// A call of `operation` for `key`, through `fallback`, classified by `classifier`.
    #[inline(always)]
    pub fn new(fallback: P, key: K, classifier: C, operation: F) -> Self {
        Self::keyed(fallback, Some(key), classifier, operation)
    }

    /// A call of `operation` through `fallback` with no key that tells its caller apart:
    /// its success is not kept, and a failure is answered with the fallback's value or
    /// closure, never with a stale answer (which could be another caller's).
    #[inline(always)]
    pub fn without_stale(fallback: P, classifier: C, operation: F) -> Self {
        Self::keyed(fallback, None, classifier, operation)
    }

    /// [`new`](Self::new) with `Some(key)`, [`without_stale`](Self::without_stale) with
    /// `None`.
    #[inline(always)]
    pub fn keyed(fallback: P, key: Option<K>, classifier: C, operation: F) -> Self {
        Self {
            fallback,
            key,
            classifier,
            operation,
        }
    }
}

impl<P, K, C, F, T, E> Future for Guarded<P, K, C, F>
where
    P: Borrow<Fallback<T, E, K>>,
    K: Hash + Eq,
    C: Classify<T, E>,
    F: Future<Output = Outcome<T, E>>,
    E: 'static,
{
    type Output = Answered<T, E>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let outcome = ready!(this.operation.poll(cx));
        Poll::Ready(settle(
            (*this.fallback).borrow(),
            this.key.take(),
            this.classifier,
            outcome,
        ))
    }
}

impl<P, K, C, F> fmt::Debug for Guarded<P, K, C, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Guarded")
            .field("keyed", &self.key.is_some())
            .finish_non_exhaustive()
    }
}
