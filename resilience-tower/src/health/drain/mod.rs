//! [`DrainLayer`]: counts requests in flight for a [`Health`] and refuses new ones once it
//! drains, so that shutdown finishes what it started and starts nothing new.
//!
//! ```
//! use std::time::Duration;
//!
//! use http::{Request, StatusCode};
//! use resilience_core::health::Health;
//! use resilience_tower::health::DrainLayer;
//! use resilience_tower::http::HttpErrorLayer;
//! use tower::{ServiceBuilder, ServiceExt, service_fn};
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
//! let health = Health::builder().shutdown_delay(Duration::ZERO).build().unwrap();
//! health.startup().await.unwrap();
//! let svc = ServiceBuilder::new()
//!     .layer(HttpErrorLayer::new())
//!     .layer(DrainLayer::new(health.clone()))
//!     .service(service_fn(|_: Request<()>| async {
//!         Ok::<_, std::convert::Infallible>(http::Response::new(String::from("done")))
//!     }));
//!
//! health.shutdown_signal(std::future::ready(())).await; // draining now
//! let refused = svc.oneshot(Request::new(())).await.unwrap();
//! assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
//! assert_eq!(refused.headers()["content-type"], "application/problem+json");
//! # }
//! ```
//!
//! # Why
//!
//! A graceful shutdown has to know what is still running. axum's graceful shutdown
//! waits for connections; this layer counts requests (the core [`Guarded`] request), so
//! [`Health::drain`] can wait for exactly those (and report how many were cut off when
//! the drain timeout passed), and it refuses requests that arrive once draining began —
//! on a kept-alive connection, or on a server without graceful shutdown of its own —
//! with [`ShuttingDown`](resilience_core::ErrorKind::ShuttingDown): a rejection, 503
//! through [`HttpErrorLayer`](crate::http::HttpErrorLayer), which clients may retry on
//! another instance. Before draining (including the shutdown delay, while load balancers
//! catch up) requests are served normally.
//!
//! Put it outside the layers that can make a request wait (bulkhead queue, retries), so
//! the wait counts as in flight, and keep the health routes outside it.

mod future;
mod layer;

use std::task::{Context, Poll};

use resilience_core::health::{Guarded, Health};
use resilience_core::outcome;
use resilience_core::{BoxError, Error};
use tower_service::Service;

pub use future::ResponseFuture;
pub use layer::DrainLayer;

/// A service that counts each call in flight for a [`Health`] and refuses calls with
/// `ShuttingDown` once the health drains.
///
/// - `poll_ready` is the inner service's.
/// - `call` counts the request in ([`Health::enter`]) and calls the inner service; the
///   count is released when the inner future completes (for an HTTP response: when its
///   head is ready; axum's graceful shutdown waits for the body) or is dropped. Once
///   draining, `call` fails the future without calling the inner service.
/// - Inner errors become [`Error`] with [`Error::wrap`] (an inner `Error` passes
///   through unchanged).
///
/// # Clone
///
/// Clones share the [`Health`] (one count for all of them) and clone the inner service.
#[derive(Clone, Debug)]
pub struct DrainService<S> {
    inner: S,
    health: Health,
}

impl<S> DrainService<S> {
    /// Wraps `inner`, counting its requests for `health`.
    pub const fn new(inner: S, health: Health) -> Self {
        Self { inner, health }
    }

    /// The [`Health`] requests are counted for.
    pub fn health(&self) -> &Health {
        &self.health
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

impl<S, Req> Service<Req> for DrainService<S>
where
    S: Service<Req>,
    S::Error: Into<BoxError>,
{
    type Response = S::Response;
    type Error = Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.inner.poll_ready(cx).map_err(Error::wrap)
    }

    fn call(&mut self, request: Req) -> Self::Future {
        // Refused: the inner service is not called at all.
        let guarded = match self.health.enter() {
            Ok(in_flight) => Guarded::admitted(in_flight, outcome::wrap(self.inner.call(request))),
            Err(error) => Guarded::refused(error),
        };
        ResponseFuture::new(guarded)
    }
}
