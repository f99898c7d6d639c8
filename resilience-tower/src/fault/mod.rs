//! [`FaultLayer`]: inject latency, error answers, aborts and hangs into a service — by
//! rate, seeded, switchable at run time, off by default — built on
//! [`resilience_core::fault::Fault`].
//!
//! ```
//! use std::time::Duration;
//!
//! use axum::{Router, body::Body, routing::get};
//! use http::{Request, StatusCode};
//! use resilience_tower::fault::{Fault, FaultLayer};
//! use resilience_tower::http::HttpErrorLayer;
//! use tower::{ServiceBuilder, ServiceExt};
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
//! // A quarter of the requests answered 503 + Retry-After, a tenth delayed by 0.2-1 s.
//! let fault = Fault::builder()
//!     .name("inventory")
//!     .seed(42)
//!     .error_rate(0.25)
//!     .latency(0.1, Duration::from_millis(200), Duration::from_secs(1))
//!     .build()
//!     .expect("valid config");
//! let app = Router::new().route("/stock", get(|| async { "12 left" })).layer(
//!     ServiceBuilder::new()
//!         // Aborts (`FaultInjected` errors) answered as problem+json 503s.
//!         .layer(HttpErrorLayer::new())
//!         .layer(
//!             FaultLayer::new(fault.clone())
//!                 .status(StatusCode::SERVICE_UNAVAILABLE)
//!                 .retry_after(Duration::from_secs(1)),
//!         ),
//! );
//! let get = || Request::get("/stock").body(Body::empty()).unwrap();
//!
//! // Off until switched on: every request is served.
//! assert_eq!(app.clone().oneshot(get()).await.unwrap().status(), StatusCode::OK);
//!
//! fault.enable(); // from a test, an admin endpoint, a chaos schedule
//! let mut unavailable = 0;
//! for _ in 0..400 {
//!     let response = app.clone().oneshot(get()).await.unwrap();
//!     if response.status() == StatusCode::SERVICE_UNAVAILABLE {
//!         assert_eq!(response.headers()["retry-after"], "1");
//!         unavailable += 1;
//!     }
//! }
//! assert!((60..140).contains(&unavailable), "{unavailable}");
//! fault.disable();
//! # }
//! ```
//!
//! # Where to put it
//!
//! - **On a server's routes** (as above), with error answers as an HTTP
//!   [`status`](FaultLayer::status): clients see a flaky service, and whatever protects
//!   them — their retries, breakers, deadlines — is exercised for real.
//! - **On a client**, innermost (next to the transport): the layers above it see a flaky
//!   dependency. An abort fails the call with
//!   [`ErrorKind::FaultInjected`](resilience_core::ErrorKind::FaultInjected), as a reset
//!   connection would; with the default answer, so does an error answer.
//!
//! A hang never completes: put a deadline or timeout outside it (a fault layer is the
//! way to check that there is one). An injected delay holds the request, and calls the
//! inner service after it, so the service sees the request late, as it would over a
//! slow network.
//!
//! `FaultInjected` errors are transient and not rejections, so breakers count them and
//! retries retry them; [`HttpErrorLayer`](crate::http::HttpErrorLayer) answers them with
//! 503.
//!
//! # Cost
//!
//! Switched off, a call costs one relaxed atomic load on top of the inner service. A
//! delayed call clones the inner service (the ready one is kept for the delayed call,
//! as [`BulkheadService`](crate::bulkhead::BulkheadService) does while waiting), which
//! is why `S: Clone`.

mod future;
mod layer;

use std::task::{Context, Poll};
use std::time::Duration;

use http::{StatusCode, header};
use resilience_core::fault::{Action, FailWith, Injected};
use resilience_core::outcome::Outcome;
use resilience_core::{BoxError, Error};
use tower_service::Service;

pub use future::ResponseFuture;
pub use layer::FaultLayer;
pub use resilience_core::fault::{Answer, Fault, FaultBuilder, FaultSnapshot};

use self::future::Call;
use crate::http::retry_after::header_value;

/// A service that draws a fault from a shared [`Fault`] for every call and applies it:
/// a delay before the inner call, then the call, an error answer, an abort or a hang.
///
/// Errors are [`resilience_core::Error`]: `FaultInjected` for aborts (and for error
/// answers with the default [`FailWith`] answer), the inner service's errors through
/// [`Error::wrap`].
///
/// # Readiness
///
/// `poll_ready` forwards the inner service's readiness, whatever the next call draws.
///
/// # Clone
///
/// Clones share the fault (its switch and its draws) and clone the answer and the inner
/// service.
#[derive(Clone, Debug)]
pub struct FaultService<S, A = FailWith> {
    inner: S,
    fault: Fault,
    answer: A,
}

impl<S, A> FaultService<S, A> {
    /// Wraps `inner`, injecting `fault`'s draws, with `answer` as the error answer.
    pub const fn new(inner: S, fault: Fault, answer: A) -> Self {
        Self {
            inner,
            fault,
            answer,
        }
    }

    /// The fault.
    pub fn fault(&self) -> &Fault {
        &self.fault
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

impl<S, A, Req> Service<Req> for FaultService<S, A>
where
    S: Service<Req> + Clone,
    S::Error: Into<BoxError>,
    A: Answer<S::Response, Error> + Clone,
{
    type Response = S::Response;
    type Error = Error;
    type Future = ResponseFuture<S, Req, A>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.inner.poll_ready(cx).map_err(Error::wrap)
    }

    #[inline]
    fn call(&mut self, request: Req) -> Self::Future {
        let injection = self.fault.decide();
        let call = match (injection.action, injection.delay) {
            (Action::Proceed, None) => Call::Called {
                future: self.inner.call(request),
            },
            (Action::Proceed, Some(_)) => {
                let fresh = self.inner.clone();
                let ready = std::mem::replace(&mut self.inner, fresh);
                Call::Later {
                    call: Some((ready, request)),
                }
            }
            _ => Call::Never,
        };
        ResponseFuture::new(Injected::new(injection, call, self.answer.clone()))
    }
}

/// An HTTP error answer: an empty response with a status, and `Retry-After` if set.
/// Made by [`FaultLayer::status`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StatusAnswer {
    status: StatusCode,
    retry_after: Option<Duration>,
}

impl StatusAnswer {
    /// Answers with `status`.
    pub const fn new(status: StatusCode) -> Self {
        Self {
            status,
            retry_after: None,
        }
    }

    /// Sends `Retry-After` (whole seconds, rounded up) as well.
    pub const fn retry_after(mut self, hint: Duration) -> Self {
        self.retry_after = Some(hint);
        self
    }
}

impl<B: Default> Answer<http::Response<B>, Error> for StatusAnswer {
    fn answer(self) -> Outcome<http::Response<B>, Error> {
        let mut response = http::Response::new(B::default());
        *response.status_mut() = self.status;
        if let Some(hint) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, header_value(hint));
        }
        Ok(Ok(response))
    }
}
