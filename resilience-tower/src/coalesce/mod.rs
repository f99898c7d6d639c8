//! Request coalescing as tower middleware: [`CoalesceLayer`] lets identical requests in
//! flight share one call to the inner service.
//!
//! ```
//! use std::sync::Arc;
//! use std::sync::atomic::{AtomicU32, Ordering};
//! use std::time::Duration;
//!
//! use http::{Request, Response};
//! use resilience_tower::coalesce::{CoalesceLayer, Coalescer};
//! use tower::{Layer, Service, ServiceExt, service_fn};
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
//! let calls = Arc::new(AtomicU32::new(0));
//! let counter = Arc::clone(&calls);
//! let backend = service_fn(move |_: Request<()>| {
//!     counter.fetch_add(1, Ordering::Relaxed);
//!     async {
//!         tokio::time::sleep(Duration::from_millis(20)).await;
//!         Ok::<_, std::io::Error>(Response::new("catalog page".to_owned()))
//!     }
//! });
//! let coalescer = Coalescer::builder().name("catalog").build().unwrap();
//! // The default key: GETs (and HEADs) with the same URI, credentials and negotiation.
//! let svc = CoalesceLayer::new(coalescer).layer(backend);
//!
//! let get = || Request::get("http://shop/catalog?page=1").body(()).unwrap();
//! let (a, b) = tokio::join!(svc.clone().oneshot(get()), svc.clone().oneshot(get()));
//! assert_eq!(a.unwrap().body(), b.unwrap().body());
//! assert_eq!(calls.load(Ordering::Relaxed), 1, "one call for both");
//! # }
//! ```
//!
//! How requests share a call (and what a cancelled or panicking leader does) is the
//! core [`Coalescer`]'s: see [`resilience_core::coalesce`]. The layer adds:
//!
//! - **A key per request**: a [`RequestKey`] whose key is an `Option` (`None`: never
//!   coalesced). The default, [`HttpKey`], coalesces `GET` and `HEAD` requests with the
//!   same URI and the same `Authorization`, `Cookie` and `Accept*` headers, so that one
//!   client never receives an answer made for another; [`KeyFn`](crate::key::KeyFn)
//!   takes a closure.
//! - **Shared answers.** Every waiter gets a clone of the response (`S::Response:
//!   Clone`: for `http::Response`, a body type such as `String`, `Bytes` or
//!   `Full<Bytes>`) or of the error ([`SharedError`]: the kind, class, context and
//!   message of the error for every waiter).
//! - **The call is made in `call`** by the request that leads; a follower keeps its
//!   request and a clone of the (ready) service, used only if it has to take over.

mod future;

use std::fmt;
use std::hash::Hash;
use std::task::{Context, Poll};

pub use resilience_core::coalesce::{Coalesced, Coalescer, CoalescerBuilder, SharedError};
use resilience_core::{BoxError, Error};
use tower_layer::Layer;
use tower_service::Service;

pub use self::future::{Deferred, ResponseFuture};
use crate::key::{HttpKey, RequestKey};

/// What a coalesced call answers, shared by its waiters.
pub type Shared<R> = Result<R, SharedError>;

/// Shares one inner call among identical requests in flight; see [`CoalesceService`] and
/// the [module docs](self).
pub struct CoalesceLayer<K, R, F = HttpKey> {
    coalescer: Coalescer<K, Shared<R>>,
    key: F,
}

impl<K, R> CoalesceLayer<K, R> {
    /// A layer coalescing through `coalescer`, keying requests with [`HttpKey`].
    pub fn new(coalescer: Coalescer<K, Shared<R>>) -> Self {
        Self {
            coalescer,
            key: HttpKey,
        }
    }
}

impl<K, R, F> CoalesceLayer<K, R, F> {
    /// The same layer, keying requests with `key` (a [`RequestKey`] whose key is an
    /// `Option<K>`: `None` is never coalesced).
    pub fn key<F2>(self, key: F2) -> CoalesceLayer<K, R, F2> {
        CoalesceLayer {
            coalescer: self.coalescer,
            key,
        }
    }
}

impl<K, R, F: Clone> Clone for CoalesceLayer<K, R, F> {
    fn clone(&self) -> Self {
        Self {
            coalescer: self.coalescer.clone(),
            key: self.key.clone(),
        }
    }
}

impl<K, R, F: fmt::Debug> fmt::Debug for CoalesceLayer<K, R, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CoalesceLayer")
            .field("coalescer", &self.coalescer)
            .field("key", &self.key)
            .finish()
    }
}

impl<S, K, R, F: Clone> Layer<S> for CoalesceLayer<K, R, F> {
    type Service = CoalesceService<S, K, R, F>;

    fn layer(&self, inner: S) -> Self::Service {
        CoalesceService {
            inner,
            coalescer: self.coalescer.clone(),
            key: self.key.clone(),
        }
    }
}

/// Shares one inner call among identical requests in flight; built by
/// [`CoalesceLayer`].
///
/// # Clone
///
/// Clones share the coalescer (its keys in flight) and clone the inner service and the
/// key.
pub struct CoalesceService<S, K, R, F = HttpKey> {
    inner: S,
    coalescer: Coalescer<K, Shared<R>>,
    key: F,
}

impl<S, K, R, F> CoalesceService<S, K, R, F> {
    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// Unwraps the service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S: Clone, K, R, F: Clone> Clone for CoalesceService<S, K, R, F> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            coalescer: self.coalescer.clone(),
            key: self.key.clone(),
        }
    }
}

impl<S: fmt::Debug, K, R, F: fmt::Debug> fmt::Debug for CoalesceService<S, K, R, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CoalesceService")
            .field("inner", &self.inner)
            .field("coalescer", &self.coalescer)
            .field("key", &self.key)
            .finish()
    }
}

impl<S, Req, K, F> Service<Req> for CoalesceService<S, K, S::Response, F>
where
    S: Service<Req> + Clone,
    S::Response: Clone,
    S::Error: Into<BoxError>,
    K: Hash + Eq + Clone,
    F: RequestKey<Req, Key = Option<K>>,
{
    type Response = S::Response;
    type Error = Error;
    type Future = ResponseFuture<S, Req, K>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.inner.poll_ready(cx).map_err(Error::wrap)
    }

    fn call(&mut self, request: Req) -> Self::Future {
        let key = self.key.key(&request);
        let clone = self.inner.clone();
        let service = std::mem::replace(&mut self.inner, clone);
        ResponseFuture::new(&self.coalescer, key, service, request)
    }
}
