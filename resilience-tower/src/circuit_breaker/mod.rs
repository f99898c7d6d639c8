//! [`CircuitBreakerLayer`]: a [`CircuitBreaker`] around a tower service.
//!
//! ```
//! use std::time::Duration;
//! use bytes::Bytes;
//! use http::{Request, Response, StatusCode};
//! use http_body_util::Full;
//! use resilience_tower::circuit_breaker::{CircuitBreaker, CircuitBreakerLayer};
//! use resilience_tower::http::HttpErrorLayer;
//! use tower::{ServiceBuilder, ServiceExt, service_fn};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let breaker = CircuitBreaker::builder()
//!     .name("upstream")
//!     .count_window(2)
//!     .open_duration(Duration::from_secs(30))
//!     .build()
//!     .unwrap();
//! let svc = ServiceBuilder::new()
//!     .layer(HttpErrorLayer::new())
//!     // Judged by status: an `Ok(503)` from the service counts as a failure.
//!     .layer(CircuitBreakerLayer::new(breaker.clone()))
//!     .service(service_fn(|_req: Request<()>| async {
//!         let down = Response::builder().status(503).body(Full::new(Bytes::new())).unwrap();
//!         Ok::<_, std::convert::Infallible>(down)
//!     }));
//!
//! for _ in 0..2 {
//!     let response = svc.clone().oneshot(Request::new(())).await.unwrap();
//!     assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
//! }
//! // Open now: refused without calling the service, 503 with Retry-After.
//! let refused = svc.oneshot(Request::new(())).await.unwrap();
//! assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
//! assert_eq!(refused.headers()["retry-after"], "30");
//! # }
//! ```
//!
//! # What counts as a failure
//!
//! An HTTP handler does not fail with `Err`: axum's handlers answer every request, a
//! `500` or a `503` included, with `Ok(response)`. So the layer judges outcomes by
//! [`HttpStatus`] unless told otherwise: a 5xx, 408 or 429 response counts as a failure
//! (and an `Err` from further in — a passed deadline, a timeout — counts as its class
//! says), another 4xx is the caller's fault and does not count, the rest are successes.
//! A breaker on an axum route therefore opens when the route starts answering 5xx.
//!
//! For a service whose responses are not `http::Response`s (a client of another
//! protocol, a service over plain values), choose
//! [`TransientErrors`](resilience_core::classify::TransientErrors) (every `Err` is a
//! failure) or a classifier of your own:
//! `CircuitBreakerLayer::new(breaker).classifier(TransientErrors)`. A classifier sees
//! `&Result<S::Response, resilience_core::Error>`: the inner service's errors arrive
//! converted, so it can match on [`ErrorKind`](resilience_core::ErrorKind).
//!
//! The core breaker's work (admission, classification, recording) is
//! [`resilience_core::circuit_breaker::Guarded`]; this layer only adds what a tower
//! service needs around it.
//!
//! # Where calls are refused
//!
//! In `call`, not in `poll_ready`. axum clones a service per request and treats it as
//! always ready; a breaker that refused in `poll_ready` would either stall those callers
//! or fail the readiness of a service it never called. Refusing in `call` returns a
//! future that fails at once with [`ErrorKind::CircuitOpen`](resilience_core::ErrorKind),
//! and `poll_ready` only forwards the inner service's readiness.

mod future;
mod layer;

use std::task::{Context, Poll};

use resilience_core::circuit_breaker::Guarded;
pub use resilience_core::circuit_breaker::{CircuitBreaker, CircuitBreakerBuilder, State};
use resilience_core::{BoxError, Classify, Error, outcome};
use tower_service::Service;

pub use future::ResponseFuture;
pub use layer::CircuitBreakerLayer;

use crate::http::HttpStatus;

/// A service that asks a [`CircuitBreaker`] before every call and records the outcome,
/// judged by the classifier `C` (by default [`HttpStatus`]; see the
/// [module docs](self#what-counts-as-a-failure)).
///
/// Errors are [`resilience_core::Error`]: `CircuitOpen` (a rejection, with
/// `retry_after` = the time until half-open) when the breaker refuses, and the inner
/// service's errors through [`Error::wrap`] (an inner `Error` passes through), which is
/// also what the classifier sees.
///
/// Outcomes the classifier calls `Benign` and inner errors that are rejections (a full
/// bulkhead further in) are not counted. A call that panics counts as a failure; a call
/// cut off by the deadline (a [`DeadlineLayer`](crate::deadline::DeadlineLayer) outside
/// this one) as a failure with outcome `timeout`; a future the caller dropped for another
/// reason is a cancellation and is not counted (see
/// [`Permit`](resilience_core::circuit_breaker::Permit)).
///
/// # Readiness
///
/// `poll_ready` forwards the inner service's readiness (its error becomes
/// `Error::wrap`); the breaker decides in `call`. See the [module docs](self).
///
/// # Clone
///
/// Clones share the breaker (its state, window and metrics: it lives in an `Arc`), clone
/// the classifier and clone the inner service.
#[derive(Clone, Debug)]
pub struct CircuitBreakerService<S, C = HttpStatus> {
    inner: S,
    breaker: CircuitBreaker,
    classifier: C,
}

impl<S, C> CircuitBreakerService<S, C> {
    /// Wraps `inner`, recording in `breaker`, judging outcomes with `classifier`.
    pub const fn new(inner: S, breaker: CircuitBreaker, classifier: C) -> Self {
        Self {
            inner,
            breaker,
            classifier,
        }
    }

    /// The breaker.
    pub fn breaker(&self) -> &CircuitBreaker {
        &self.breaker
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

impl<S, C, Req> Service<Req> for CircuitBreakerService<S, C>
where
    S: Service<Req>,
    S::Error: Into<BoxError>,
    C: Classify<S::Response, Error> + Clone,
{
    type Response = S::Response;
    type Error = Error;
    type Future = ResponseFuture<S::Future, C>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.inner.poll_ready(cx).map_err(Error::wrap)
    }

    fn call(&mut self, request: Req) -> Self::Future {
        let classifier = self.classifier.clone();
        ResponseFuture::new(match self.breaker.try_acquire_owned() {
            Ok(permit) => Guarded::admitted_passing(permit, classifier, request, |request| {
                outcome::wrap(self.inner.call(request))
            }),
            Err(error) => Guarded::refused(error, classifier),
        })
    }
}
