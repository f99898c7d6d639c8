//! [`CircuitBreakerLayer`]: a [`resilience_core::CircuitBreaker`] around a tower service.
//!
//! ```
//! use std::time::Duration;
//! use bytes::Bytes;
//! use http::{Request, Response, StatusCode};
//! use http_body_util::Full;
//! use resilience_core::CircuitBreaker;
//! use resilience_tower::circuit_breaker::CircuitBreakerLayer;
//! use resilience_tower::http::{HttpErrorLayer, HttpStatus};
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
//!     // `HttpStatus`: an `Ok(503)` from the service counts as a failure.
//!     .layer(CircuitBreakerLayer::new(breaker.clone()).classifier(HttpStatus::new()))
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

use resilience_core::classify::TransientErrors;
use resilience_core::{BoxError, Classify, Error};
use tower_service::Service;

pub use future::ResponseFuture;
pub use layer::CircuitBreakerLayer;

/// A service that asks a [`resilience_core::CircuitBreaker`] before every call and records
/// the outcome, judged by the classifier `C`.
///
/// Errors are [`resilience_core::Error`]: `CircuitOpen` (a rejection, with
/// `retry_after` = the time until half-open) when the breaker refuses, and the inner
/// service's errors through [`Error::inner`] (an inner `Error` passes through).
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
/// `Error::inner`); the breaker decides in `call`. See the [module docs](self).
///
/// # Clone
///
/// Clones share the breaker (its state, window and metrics: it lives in an `Arc`), clone
/// the classifier and clone the inner service.
#[derive(Clone, Debug)]
pub struct CircuitBreaker<S, C = TransientErrors> {
    inner: S,
    breaker: resilience_core::CircuitBreaker,
    classifier: C,
}

impl<S, C> CircuitBreaker<S, C> {
    /// Wraps `inner`, recording in `breaker`, judging outcomes with `classifier`.
    pub const fn new(inner: S, breaker: resilience_core::CircuitBreaker, classifier: C) -> Self {
        Self {
            inner,
            breaker,
            classifier,
        }
    }

    /// The breaker.
    pub fn breaker(&self) -> &resilience_core::CircuitBreaker {
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

impl<S, C, Req> Service<Req> for CircuitBreaker<S, C>
where
    S: Service<Req>,
    S::Error: Into<BoxError> + 'static,
    C: Classify<S::Response, S::Error> + Clone,
{
    type Response = S::Response;
    type Error = Error;
    type Future = ResponseFuture<S::Future, C>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.inner.poll_ready(cx).map_err(Error::inner)
    }

    fn call(&mut self, request: Req) -> Self::Future {
        match self.breaker.try_acquire_owned() {
            Ok(permit) => {
                ResponseFuture::called(self.inner.call(request), permit, self.classifier.clone())
            }
            Err(error) => ResponseFuture::rejected(error, self.classifier.clone()),
        }
    }
}
