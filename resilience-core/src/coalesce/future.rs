//! [`Coalesced`]: one request through a [`Coalescer`] — the one place coalescing is
//! written; the tower layer wraps this future.

use std::fmt;
use std::future::{Future, IntoFuture};
use std::hash::Hash;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use pin_project_lite::pin_project;

use super::Coalescer;
use super::flight::{Found, Place};

pin_project! {
    /// One request through a [`Coalescer`]: it leads the call for its key (makes it, at
    /// once, from `work`), follows the call in flight (waits for its answer), or runs
    /// alone (no key, or no room). A follower keeps `work` unused, to make the call
    /// itself if the leader goes away before answering; see the
    /// [module docs](super#guarantees).
    ///
    /// Made by [`Coalescer::run`] or [`Coalesced::new`].
    #[must_use = "futures do nothing unless polled"]
    pub struct Coalesced<K, V, D>
    where
        K: Hash,
        K: Eq,
        D: IntoFuture<Output = V>,
    {
        place: Place<K, V>,
        work: Option<D>,
        #[pin]
        call: Option<D::IntoFuture>,
    }
}

impl<K, V, D> Coalesced<K, V, D>
where
    K: Hash + Eq + Clone,
    V: Clone,
    D: IntoFuture<Output = V>,
{
    /// A request for `key` (`None`: not coalesced) through `coalescer`, whose call is
    /// `work`: turned into its future now if this request leads or runs alone, kept for
    /// a takeover if it follows.
    #[inline]
    pub fn new(coalescer: &Coalescer<K, V>, key: Option<K>, work: D) -> Self {
        let place = Place::join(Arc::clone(&coalescer.shared), key);
        let (work, call) = match place.is_following() {
            true => (Some(work), None),
            false => (None, Some(work.into_future())),
        };
        Self { place, work, call }
    }
}

impl<K, V, D> Future for Coalesced<K, V, D>
where
    K: Hash + Eq + Clone,
    V: Clone,
    D: IntoFuture<Output = V>,
{
    type Output = V;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<V> {
        let mut this = self.project();
        loop {
            if let Some(call) = this.call.as_mut().as_pin_mut() {
                let answer = ready!(call.poll(cx));
                this.call.set(None);
                this.place.complete(&answer);
                return Poll::Ready(answer);
            }
            match ready!(this.place.poll_follow(cx)) {
                Found::Answer(answer) => return Poll::Ready(answer),
                Found::Lead => {
                    let work = this.work.take().expect("a follower keeps its work");
                    this.call.set(Some(work.into_future()));
                }
            }
        }
    }
}

impl<K: Hash + Eq, V, D: IntoFuture<Output = V>> fmt::Debug for Coalesced<K, V, D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Coalesced")
            .field("calling", &self.call.is_some())
            .finish_non_exhaustive()
    }
}

/// A closure that makes a call, as the work of a [`Coalesced`] request
/// ([`Coalescer::run`]).
#[derive(Debug)]
pub struct Make<M>(pub M);

impl<M, F> IntoFuture for Make<M>
where
    M: FnOnce() -> F,
    F: Future,
{
    type Output = F::Output;
    type IntoFuture = F;

    #[inline]
    fn into_future(self) -> F {
        (self.0)()
    }
}
