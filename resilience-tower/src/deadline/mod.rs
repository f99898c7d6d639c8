//! Deadline propagation over HTTP and gRPC: [`DeadlineLayer`] receives the caller's
//! deadline and enforces it; [`PropagateDeadlineLayer`] hands what is left to the next
//! service.
//!
//! ```
//! use std::time::Duration;
//! use axum::{Router, routing::get};
//! use http::{Request, StatusCode};
//! use resilience_core::Deadline;
//! use resilience_tower::deadline::DeadlineLayer;
//! use resilience_tower::http::HttpErrorLayer;
//! use tower::{ServiceBuilder, ServiceExt};
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
//! let app: Router = Router::new()
//!     .route("/fast", get(|| async { format!("{:?}", Deadline::current().map(|d| d.remaining())) }))
//!     .route("/slow", get(|| async {
//!         tokio::time::sleep(Duration::from_secs(60)).await; // dropped at the deadline
//!         "never"
//!     }))
//!     .layer(
//!         ServiceBuilder::new()
//!             .layer(HttpErrorLayer::new()) // errors become 504 / 400 / grpc-status
//!             .layer(DeadlineLayer::builder().max(Duration::from_secs(10)).build().unwrap()),
//!     );
//!
//! let fast = Request::get("/fast").header("connect-timeout-ms", "250").body(axum::body::Body::empty()).unwrap();
//! let response = app.clone().oneshot(fast).await.unwrap();
//! assert_eq!(response.status(), StatusCode::OK);
//!
//! let slow = Request::get("/slow").header("connect-timeout-ms", "250").body(axum::body::Body::empty()).unwrap();
//! let response = app.clone().oneshot(slow).await.unwrap();
//! assert_eq!(response.status(), StatusCode::GATEWAY_TIMEOUT);
//!
//! let bad = Request::get("/fast").header("connect-timeout-ms", "soon").body(axum::body::Body::empty()).unwrap();
//! assert_eq!(app.oneshot(bad).await.unwrap().status(), StatusCode::BAD_REQUEST);
//! # }
//! ```
//!
//! # Why
//!
//! A request its caller has given up on must stop consuming work everywhere downstream.
//! Each hop reads the time left from the request, runs the handler under that deadline
//! (the ambient [`Deadline`] that retries and bulkheads read)
//! and writes what is still left into its own outgoing calls. When the deadline passes,
//! the handler's future is dropped — its work stops at its next `.await` — and the caller
//! gets its answer at once instead of after the work would have finished.
//!
//! # Wire formats
//!
//! gRPC requests (`content-type: application/grpc*`) carry `grpc-timeout` (at most 8
//! digits and a unit, as the gRPC HTTP/2 protocol defines); everything else carries whole
//! milliseconds in `connect-timeout-ms` by default (why that name:
//! [`TIMEOUT_MS`](resilience_core::deadline::codec::TIMEOUT_MS)), configurable with
//! [`DeadlineLayerBuilder::header`] and [`PropagateDeadlineLayerBuilder::header`].
//!
//! A header sent more than once (a proxy adding its own line) counts as its **smallest**
//! value: a deadline only ever shrinks on its way, so the tightest one any hop set holds.
//! If any of the values is malformed, the header is malformed (400, below).
//!
//! # Errors as responses
//!
//! Both layers fail with [`resilience_core::Error`]; put
//! [`HttpErrorLayer`](crate::http::HttpErrorLayer) outside them to answer:
//!
//! | case | HTTP | gRPC |
//! |---|---|---|
//! | deadline passed (before or during the handler) | 504 problem+json | `grpc-status: 4` (`DEADLINE_EXCEEDED`) |
//! | malformed header | 400 problem+json naming the header | `grpc-status: 3` (`INVALID_ARGUMENT`) |
//!
//! The error layer, not the deadline layer, picks the gRPC form: it already turns every
//! error into a response, so one place answers gRPC callers with `grpc-status` for every
//! primitive (a full bulkhead is `RESOURCE_EXHAUSTED`), and the deadline layer keeps the
//! inner service's response type untouched.

#[cfg(feature = "axum")]
mod extract;
mod future;
mod layer;
mod propagate;
mod wire;

use std::sync::Arc;
use std::task::{Context, Poll};

use http::Request;
use resilience_core::{BoxError, Error, ErrorKind, Primitive};
use tokio::time::Instant;
use tower_service::Service;

#[cfg(feature = "axum")]
pub use extract::AmbientDeadline;
pub use future::ResponseFuture;
pub use layer::{DEFAULT_MAX, DeadlineLayer, DeadlineLayerBuilder};
pub use propagate::{
    PropagateDeadlineLayer, PropagateDeadlineLayerBuilder, PropagateDeadlineService,
};
pub use resilience_core::deadline::Deadline;

use layer::ServerConfig;
use wire::Wire;

/// The server side: reads the caller's deadline from the request and enforces it.
///
/// For each request:
///
/// 1. The timeout is read from `grpc-timeout` (gRPC requests) or the millisecond header
///    (others), cut to the configured maximum; without a header the default timeout
///    applies, and without a default the request passes through untouched (no timer, no
///    allocation).
/// 2. A malformed header fails the request with [`ErrorKind::InvalidRequest`] (400) whose
///    detail names the header and the problem, without calling the inner service — or, if
///    configured, is treated as absent.
/// 3. A zero timeout (`0m`) is an already-expired deadline: `DeadlineExceeded`, a
///    rejection, without calling the inner service.
/// 4. Otherwise the [`Deadline`] becomes the ambient deadline ([`Deadline::current`]) of
///    the inner service's response future, which is dropped when it passes:
///    `DeadlineExceeded`, marked [`during_call`](Error::during_call). It goes into the
///    request extensions too only if [asked for](DeadlineLayerBuilder::request_extension).
///
/// Expiries count in `resilience_deadline_exceeded_total{name, where}`; the remaining
/// budget is recorded in the current span's `deadline.remaining_seconds` field.
///
/// The deadline is ambient in the inner service's `call` as well (with
/// [`sync_scope`](resilience_core::deadline::sync_scope)), so layers below that decide in
/// `call` — a bulkhead taking its place in the queue — see it too.
///
/// # Clone
///
/// Clones share the configuration and metric handles (one `Arc`) and clone the inner
/// service.
#[derive(Clone, Debug)]
pub struct DeadlineService<S> {
    inner: S,
    config: Arc<ServerConfig>,
}

impl<S> DeadlineService<S> {
    pub(crate) fn new(inner: S, config: Arc<ServerConfig>) -> Self {
        Self { inner, config }
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

impl<S, B> Service<Request<B>> for DeadlineService<S>
where
    S: Service<Request<B>>,
    S::Error: Into<BoxError>,
{
    type Response = S::Response;
    type Error = Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.inner.poll_ready(cx).map_err(Error::wrap)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        let config = &*self.config;
        let policy = &config.policy;
        let (wire, carried) = Wire::lookup(request.headers(), &config.header);
        let timeout = match carried {
            None => policy.default_timeout(),
            Some(Ok(timeout)) => Some(timeout.min(policy.max())),
            Some(Err(_)) if config.ignore_malformed => policy.default_timeout(),
            Some(Err(problem)) => {
                let header = wire.header_name();
                return ResponseFuture::failed(
                    Error::new(ErrorKind::InvalidRequest)
                        .with_primitive(Primitive::Deadline)
                        .with_instance(policy.name().clone())
                        .with_field("header", header.to_owned())
                        .with_detail(format!("malformed `{header}` header: {problem}")),
                );
            }
        };
        let Some(timeout) = timeout else {
            return ResponseFuture::unbounded(self.inner.call(request));
        };
        // One clock read per request (clock reads are not free on every platform).
        let now = Instant::now();
        let mut deadline = now
            .checked_add(timeout)
            .map_or_else(|| Deadline::after(timeout), Deadline::at);
        if let Some(outer) = Deadline::current() {
            deadline = deadline.min(outer);
        }
        if deadline.instant() <= now {
            return ResponseFuture::failed(policy.enforcer().expired(deadline));
        }
        if config.extension {
            request.extensions_mut().insert(deadline);
        }
        // The deadline is ambient in the inner `call` too: a bulkhead below takes its
        // place in the queue there and must see the deadline to bound its wait.
        // The whole response future is built inside the scope, so that the inner future
        // is written where it stays rather than moved out of the scope and in again; the
        // request is handed in as the argument, not captured (a capture copies it).
        let inner = &mut self.inner;
        resilience_core::deadline::sync_scope_with(deadline, request, |request| {
            ResponseFuture::bounded(policy.enforcer().run_started(
                deadline,
                now,
                inner.call(request),
            ))
        })
    }
}
