//! [`AdaptiveBulkheadLayer`]: a concurrency cap that finds its own limit, built on
//! [`AdaptiveBulkhead`].
//!
//! ```
//! use std::time::Duration;
//!
//! use axum::{Router, routing::get};
//! use resilience_tower::adaptive::{AdaptiveBulkhead, AdaptiveBulkheadLayer, Vegas};
//! use resilience_tower::http::HttpErrorLayer;
//! use tower::ServiceBuilder;
//!
//! let limiter = AdaptiveBulkhead::builder()
//!     .name("reports")
//!     .algorithm(Vegas::builder().initial_limit(10).max_limit(200).build().unwrap())
//!     .max_waiting(50)
//!     .max_wait(Duration::from_millis(100))
//!     .build()
//!     .expect("valid config");
//!
//! // Over the limit the found capacity allows: 503 + `Retry-After` at once (or after at
//! // most 100 ms in the queue), and a request whose deadline is shorter than the
//! // expected wait is refused at once with 504.
//! let app: Router = Router::new()
//!     .route("/reports", get(|| async { "report" }))
//!     .layer(
//!         ServiceBuilder::new()
//!             .layer(HttpErrorLayer::new())
//!             .layer(AdaptiveBulkheadLayer::new(limiter)),
//!     );
//! # let _ = app;
//! ```
//!
//! The layer is the [bulkhead layer](crate::bulkhead) (permits taken in `call`, the
//! queue in the response future, the same errors) with each call timed and judged for
//! the limit algorithm, by [`HttpStatus`] unless told otherwise: a 5xx, 408 or 429
//! answer counts as a failure (back off), another 4xx is not a sample, the rest are
//! latency samples. For a service whose responses are not `http::Response`s choose
//! [`TransientErrors`](resilience_core::classify::TransientErrors):
//! `AdaptiveBulkheadLayer::new(limiter).classifier(TransientErrors)`.
//!
//! The work (permit, queue, sample) is [`resilience_core::adaptive::Guarded`]; this layer
//! only hands it the inner service's call, in place or kept for later.

mod future;
mod layer;

use std::task::{Context, Poll};

use resilience_core::adaptive::Sampler;
pub use resilience_core::adaptive::{
    AdaptiveBulkhead, AdaptiveBulkheadBuilder, Aimd, LimitAlgorithm, Vegas,
};
use resilience_core::{BoxError, Classify, Error};
use tower_service::Service;

pub use future::ResponseFuture;
pub use layer::AdaptiveBulkheadLayer;

use crate::bulkhead::guarded;
use crate::http::HttpStatus;

/// A service that runs each call holding a permit of a shared [`AdaptiveBulkhead`] and
/// reports its latency and outcome (judged by `C`, [`HttpStatus`] by default) to the
/// bulkhead's limit algorithm.
///
/// Readiness, admission, queueing and errors are [`BulkheadService`](crate::bulkhead::BulkheadService)'s.
///
/// # Clone
///
/// Clones share the adaptive bulkhead (one limit for all of them), clone the classifier
/// and clone the inner service.
#[derive(Clone, Debug)]
pub struct AdaptiveBulkheadService<S, C = HttpStatus> {
    inner: S,
    limiter: AdaptiveBulkhead,
    classifier: C,
}

impl<S, C> AdaptiveBulkheadService<S, C> {
    /// Wraps `inner`, enforcing and sampling `limiter`, judging outcomes with `classifier`.
    pub const fn new(inner: S, limiter: AdaptiveBulkhead, classifier: C) -> Self {
        Self {
            inner,
            limiter,
            classifier,
        }
    }

    /// The shared adaptive bulkhead, for introspection.
    pub fn limiter(&self) -> &AdaptiveBulkhead {
        &self.limiter
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

impl<S, C, Req> Service<Req> for AdaptiveBulkheadService<S, C>
where
    S: Service<Req> + Clone,
    S::Error: Into<BoxError>,
    C: Classify<S::Response, Error> + Clone,
{
    type Response = S::Response;
    type Error = Error;
    type Future = ResponseFuture<S, Req, C>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.inner.poll_ready(cx).map_err(Error::wrap)
    }

    #[inline]
    fn call(&mut self, request: Req) -> Self::Future {
        let sampler = Sampler::new(self.classifier.clone());
        let guarded = guarded(self.limiter.admit(), &mut self.inner, request);
        ResponseFuture::new(guarded.with_observer(sampler))
    }
}
