//! [`BulkheadLayer`]: a concurrency cap for a service that sheds the excess at once
//! instead of queueing it, built on [`Bulkhead`].
//!
//! ```
//! use axum::{Router, routing::get};
//! use resilience_tower::bulkhead::{Bulkhead, BulkheadLayer};
//! use resilience_tower::http::HttpErrorLayer;
//! use tower::ServiceBuilder;
//!
//! let bulkhead = Bulkhead::builder()
//!     .name("reports")
//!     .max_concurrent(16)
//!     .build()
//!     .expect("valid config");
//!
//! // The 17th concurrent request gets 503 + `Retry-After` + problem+json at once.
//! let app: Router = Router::new()
//!     .route("/reports", get(|| async { "report" }))
//!     .layer(
//!         ServiceBuilder::new()
//!             .layer(HttpErrorLayer::new())
//!             .layer(BulkheadLayer::new(bulkhead)),
//!     );
//! # let _ = app;
//! ```
//!
//! # Why acquire in `call`
//!
//! tower's `ConcurrencyLimit` takes its permit in `poll_ready` and waits there. axum's
//! router is always ready and clones the service per request, so that wait never applies
//! backpressure to anyone: requests pile up inside the server. This layer takes its
//! permit in `call`, per request: a clone of the service holds nothing between requests,
//! and a request that finds the bulkhead full fails at once with `BulkheadFull` (a
//! rejection; the inner service is never called) — or, with a wait queue configured,
//! waits for its turn in the response future, bounded by `max_wait` and the deadline.
//!
//! The bulkhead's work (the permit, the queue, the wait) is
//! [`resilience_core::bulkhead::Guarded`]; this layer only hands it the inner service's
//! call, in place or kept for later.
//!
//! # HTTP
//!
//! Put [`HttpErrorLayer`](crate::http::HttpErrorLayer) outside it: `BulkheadFull` becomes
//! 503 Service Unavailable with `Retry-After` (the bulkhead's
//! [`retry_after`](resilience_core::bulkhead::BulkheadBuilder::retry_after) hint, whole
//! seconds rounded up) and a problem+json body; a wait ended by the deadline becomes 504.
//! For a public API whose clients back off on 429, map the kind to 429 with
//! [`ProblemConfig::with_status`](crate::http::ProblemConfig::with_status):
//!
//! ```
//! use http::StatusCode;
//! use resilience_core::ErrorKind;
//! use resilience_tower::http::{HttpErrorLayer, ProblemConfig};
//!
//! let layer = HttpErrorLayer::with_config(
//!     ProblemConfig::new().with_status(ErrorKind::BulkheadFull, StatusCode::TOO_MANY_REQUESTS),
//! );
//! # let _ = layer;
//! ```

mod future;
mod layer;

use std::task::{Context, Poll};

use resilience_core::bulkhead::{Admission, Guarded};
pub use resilience_core::bulkhead::{Bulkhead, BulkheadBuilder};
use resilience_core::{BoxError, Error, outcome};
use tower_service::Service;

pub(crate) use future::Deferred;
pub use future::ResponseFuture;
pub use layer::BulkheadLayer;

/// A service that runs each call holding a permit of a shared [`Bulkhead`].
///
/// - `poll_ready` is the inner service's; it never waits for a permit.
/// - `call` takes a permit. On the fast path it calls the inner service at once and the
///   permit travels in the [`ResponseFuture`], released when the inner future completes
///   (for an HTTP response: when its head is ready, as with tower's `ConcurrencyLimit`)
///   or is dropped. A full bulkhead fails the future with `BulkheadFull` without calling
///   the inner service. A caller that must wait keeps the (ready) inner service and the
///   request in the future and calls it once a permit is handed over; a clone of the
///   inner service takes its place for the next request, which is why `S: Clone`.
/// - Inner errors become [`Error`] with [`Error::wrap`] (an inner `Error` passes
///   through unchanged).
///
/// # Clone
///
/// Clones share the bulkhead (one limit for all of them, as axum's per-request clones
/// need) and clone the inner service. No permit is ever held by the service itself.
#[derive(Clone, Debug)]
pub struct BulkheadService<S> {
    inner: S,
    bulkhead: Bulkhead,
}

impl<S> BulkheadService<S> {
    /// Wraps `inner`, enforcing `bulkhead`.
    pub const fn new(inner: S, bulkhead: Bulkhead) -> Self {
        Self { inner, bulkhead }
    }

    /// The shared bulkhead, for introspection.
    pub fn bulkhead(&self) -> &Bulkhead {
        &self.bulkhead
    }

    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The wrapped service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Unwraps the service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, Req> Service<Req> for BulkheadService<S>
where
    S: Service<Req> + Clone,
    S::Error: Into<BoxError>,
{
    type Response = S::Response;
    type Error = Error;
    type Future = ResponseFuture<S, Req>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.inner.poll_ready(cx).map_err(Error::wrap)
    }

    fn call(&mut self, request: Req) -> Self::Future {
        ResponseFuture::new(guarded(self.bulkhead.admit(), &mut self.inner, request))
    }
}

/// The call `admission` allows: the inner service called in place when admitted; kept
/// with the request until a permit is handed over when queued; never called when refused.
#[inline(always)]
pub(crate) fn guarded<S, Req>(
    admission: Admission,
    inner: &mut S,
    request: Req,
) -> Guarded<Deferred<S, Req>>
where
    S: Service<Req> + Clone,
    S::Error: Into<BoxError>,
{
    match admission {
        Admission::Admitted(permit) => {
            Guarded::admitted(permit, outcome::wrap(inner.call(request)))
        }
        Admission::Queued(acquire) => {
            // The ready service waits with the request; a clone takes its place.
            let fresh = inner.clone();
            let service = std::mem::replace(inner, fresh);
            Guarded::queued(acquire, Deferred { service, request })
        }
        Admission::Refused(error) => Guarded::refused(error),
    }
}
