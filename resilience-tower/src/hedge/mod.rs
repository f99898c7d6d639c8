//! Hedging as tower middleware: [`HedgeLayer`] for any request that is `Clone`, and
//! [`HttpHedgeLayer`] for `http::Request`s, replaying only requests that may be repeated.
//!
//! ```
//! use std::sync::Arc;
//! use std::sync::atomic::{AtomicU32, Ordering};
//! use std::time::Duration;
//!
//! use resilience_tower::hedge::{Hedge, HedgeLayer};
//! use tower::{ServiceBuilder, ServiceExt, service_fn};
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
//! let hedge = Hedge::builder()
//!     .name("search")
//!     .percentile(0.95) // hedge once an attempt is slower than 95% of recent ones
//!     .build()
//!     .unwrap();
//! let calls = Arc::new(AtomicU32::new(0));
//! let counter = Arc::clone(&calls);
//! let svc = ServiceBuilder::new()
//!     .layer(HedgeLayer::new(hedge))
//!     .service(service_fn(move |query: &'static str| {
//!         counter.fetch_add(1, Ordering::Relaxed);
//!         async move { Ok::<_, std::io::Error>(query.len()) }
//!     }));
//! assert_eq!(svc.oneshot("rust").await.unwrap(), 4);
//! assert_eq!(calls.load(Ordering::Relaxed), 1, "a fast answer sends no hedge");
//! # }
//! ```
//!
//! When to hedge, how often, within what budget and deadline is the policy's: see
//! [`resilience_core::hedge`]. The hedging itself is the core's
//! [`Hedging`](resilience_core::hedge::Hedging) future; the layers add what only a
//! service can do:
//!
//! - **Readiness before every hedge.** Each call moves the ready inner service into its
//!   future (leaving a clone behind) and polls it ready again before sending a hedge; a
//!   hedge waits for capacity instead of overrunning an inner bulkhead (never past the
//!   deadline).
//! - **Replay by clone.** [`HedgeService`] clones the request once per call, before the
//!   first attempt, and again for each hedge.
//! - **HTTP.** [`HttpHedgeService`] follows the rule of
//!   [`HttpRetryLayer`](crate::retry::HttpRetryLayer): only the idempotent methods of
//!   RFC 9110 §9.2.2, or requests with an `Idempotency-Key`, or those
//!   [`also_hedge_if`](HttpHedgeLayer::also_hedge_if) opts in, are hedged — sending a
//!   `POST` twice at once can charge a card twice. Their body is buffered up to
//!   [`max_body`](HttpHedgeLayer::max_body) (64 KiB by default), so that every attempt
//!   sends the same bytes; a request that may not be repeated, or whose body is larger,
//!   is sent once, unhedged.
//! - **Dropped at once.** When an attempt answers, the others' response futures are
//!   dropped before the answer is returned: a connection, a permit, a half-open probe
//!   they held is free.
//!
//! The layers' error type is [`resilience_core::Error`]. The classifier
//! ([`TransientErrors`](resilience_core::classify::TransientErrors) by default, and
//! [`HttpStatus`](crate::http::HttpStatus) for HTTP) decides which attempts decide the call: a `503` is waited
//! past while a hedge runs; a `404` answers at once.

mod future;
mod http;
mod layer;

use std::task::{Context, Poll};

pub use resilience_core::hedge::{Hedge, HedgeBuilder, HedgeDelay, HedgeSnapshot};
use resilience_core::{BoxError, Classify, Error};
use tower_service::Service;

pub use self::future::ResponseFuture;
pub use self::http::{HttpHedgeLayer, HttpHedgeService, ResponseFuture as HttpResponseFuture};
pub use self::layer::HedgeLayer;

/// Hedges a service's calls through a [`Hedge`], replaying requests by clone.
///
/// # Clone
///
/// Clones share the policy (its latency window, budget and counts) and clone the inner
/// service and the classifier.
#[derive(Clone, Debug)]
pub struct HedgeService<S, C> {
    inner: S,
    hedge: Hedge,
    classifier: C,
}

impl<S, C> HedgeService<S, C> {
    /// Wraps `inner`.
    pub const fn new(inner: S, hedge: Hedge, classifier: C) -> Self {
        Self {
            inner,
            hedge,
            classifier,
        }
    }

    /// The policy.
    pub fn hedge(&self) -> &Hedge {
        &self.hedge
    }

    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// Unwraps the service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, C, Req> Service<Req> for HedgeService<S, C>
where
    S: Service<Req> + Clone,
    S::Error: Into<BoxError>,
    C: Classify<S::Response, Error> + Clone,
    Req: Clone,
{
    type Response = S::Response;
    type Error = Error;
    type Future = ResponseFuture<S, Req, C>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.inner.poll_ready(cx).map_err(Error::wrap)
    }

    fn call(&mut self, request: Req) -> Self::Future {
        let template = request.clone();
        let clone = self.inner.clone();
        let ready = std::mem::replace(&mut self.inner, clone);
        ResponseFuture::new(
            self.hedge.clone(),
            ready,
            request,
            Some(template),
            self.classifier.clone(),
        )
    }
}
