//! [`AdaptiveThrottleLayer`]: client-side adaptive throttling for a client service, built
//! on [`AdaptiveThrottle`].
//!
//! ```
//! use std::time::Duration;
//!
//! use bytes::Bytes;
//! use http::{Request, Response, StatusCode};
//! use http_body_util::Full;
//! use resilience_core::ErrorKind;
//! use resilience_tower::throttle::{AdaptiveThrottle, AdaptiveThrottleLayer};
//! use tower::{ServiceBuilder, ServiceExt, service_fn};
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
//! let throttle = AdaptiveThrottle::builder()
//!     .name("inventory")
//!     .window(Duration::from_secs(30))
//!     .build()
//!     .unwrap();
//! // An upstream that sheds everything with 503.
//! let client = ServiceBuilder::new()
//!     .layer(AdaptiveThrottleLayer::new(throttle.clone()))
//!     .service(service_fn(|_req: Request<()>| async {
//!         let busy = Response::builder().status(503).body(Full::new(Bytes::new())).unwrap();
//!         Ok::<_, std::convert::Infallible>(busy)
//!     }));
//!
//! let mut throttled = 0;
//! for _ in 0..100 {
//!     match client.clone().oneshot(Request::new(())).await {
//!         Ok(response) => assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE),
//!         Err(err) => {
//!             assert_eq!(err.kind(), ErrorKind::Throttled);
//!             throttled += 1;
//!         }
//!     }
//! }
//! // Most calls never left the client.
//! assert!(throttled > 80, "{throttled}");
//! # }
//! ```
//!
//! # What counts as rejected
//!
//! [`HttpRejections`] by default: a `503 Service Unavailable` or `429 Too Many Requests`
//! answer, or an error from further in that is a transient rejection (an open breaker, a
//! full bulkhead: `CircuitOpen`, `BulkheadFull`). Other answers, failures included, were
//! accepted by the backend. For a service whose responses are not `http::Response`s
//! choose [`Rejections`] (errors only) or a closure:
//! `AdaptiveThrottleLayer::new(throttle).judge(Rejections)`.
//!
//! Put it on the client side, outside the client's breaker (so that `CircuitOpen` counts
//! as a rejection) and inside its retry layer (each attempt is a request). A refused call
//! fails at once with `Throttled` (a rejection: the inner service was never called), 503
//! through [`HttpErrorLayer`](crate::http::HttpErrorLayer).
//!
//! The work is [`resilience_core::throttle::Guarded`]; this layer only hands it the inner
//! service's call.

mod future;
mod layer;

use std::task::{Context, Poll};

use http::{Response, StatusCode};
use resilience_core::outcome::{self, Outcome};
use resilience_core::throttle::Guarded;
pub use resilience_core::throttle::{
    AdaptiveThrottle, AdaptiveThrottleBuilder, Rejection, Rejections,
};
use resilience_core::{BoxError, Error};
use tower_service::Service;

pub use future::ResponseFuture;
pub use layer::AdaptiveThrottleLayer;

/// The HTTP [`Rejection`] judge: a `503` or `429` answer, or what [`Rejections`] counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HttpRejections;

impl<B, E: 'static> Rejection<Response<B>, E> for HttpRejections {
    #[inline]
    fn is_rejection(&self, outcome: &Outcome<Response<B>, E>) -> bool {
        match outcome {
            Ok(Ok(response)) => matches!(
                response.status(),
                StatusCode::SERVICE_UNAVAILABLE | StatusCode::TOO_MANY_REQUESTS
            ),
            _ => Rejections.is_rejection(outcome),
        }
    }
}

/// A service that asks an [`AdaptiveThrottle`] before every call and reports whether the
/// backend accepted it, as the judge `R` ([`HttpRejections`] by default) decides.
///
/// - `poll_ready` is the inner service's.
/// - `call` asks the throttle: refused, the future fails at once with `Throttled` and the
///   inner service is not called; let through, the inner service is called and its
///   outcome counted.
/// - Inner errors become [`Error`] with [`Error::wrap`] (an inner `Error` passes through).
///
/// # Clone
///
/// Clones share the throttle (one history for all of them), clone the judge and clone the
/// inner service.
#[derive(Clone, Debug)]
pub struct AdaptiveThrottleService<S, R = HttpRejections> {
    inner: S,
    throttle: AdaptiveThrottle,
    judge: R,
}

impl<S, R> AdaptiveThrottleService<S, R> {
    /// Wraps `inner`, throttling with `throttle`, judging outcomes with `judge`.
    pub const fn new(inner: S, throttle: AdaptiveThrottle, judge: R) -> Self {
        Self {
            inner,
            throttle,
            judge,
        }
    }

    /// The shared throttle, for introspection.
    pub fn throttle(&self) -> &AdaptiveThrottle {
        &self.throttle
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

impl<S, R, Req> Service<Req> for AdaptiveThrottleService<S, R>
where
    S: Service<Req>,
    S::Error: Into<BoxError>,
    R: Rejection<S::Response, Error> + Clone,
{
    type Response = S::Response;
    type Error = Error;
    type Future = ResponseFuture<S::Future, R>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.inner.poll_ready(cx).map_err(Error::wrap)
    }

    fn call(&mut self, request: Req) -> Self::Future {
        let judge = self.judge.clone();
        ResponseFuture::new(match self.throttle.try_admit() {
            Ok(()) => {
                let call = outcome::wrap(self.inner.call(request));
                Guarded::admitted(self.throttle.clone(), judge, call)
            }
            Err(error) => Guarded::refused(error, judge),
        })
    }
}
