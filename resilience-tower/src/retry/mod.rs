//! Retries as tower middleware: [`RetryLayer`] for any request that is `Clone`, and
//! [`HttpRetryLayer`] for `http::Request`s, with a buffered, replayable body and the
//! idempotency rule.
//!
//! ```
//! use std::sync::Arc;
//! use std::sync::atomic::{AtomicU32, Ordering};
//! use std::time::Duration;
//!
//! use resilience_core::{Error, ErrorKind};
//! use resilience_tower::retry::{Backoff, RetryLayer, RetryPolicy};
//! use tower::{ServiceBuilder, ServiceExt, service_fn};
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
//! let policy = RetryPolicy::builder()
//!     .name("quotes")
//!     .max_attempts(3)
//!     .backoff(Backoff::exponential(Duration::from_millis(20)))
//!     .build()
//!     .unwrap();
//! let calls = Arc::new(AtomicU32::new(0));
//! let counter = Arc::clone(&calls);
//! let svc = ServiceBuilder::new()
//!     .layer(RetryLayer::new(policy))
//!     .service(service_fn(move |symbol: &'static str| {
//!         let n = counter.fetch_add(1, Ordering::Relaxed);
//!         async move {
//!             if n == 0 { Err(Error::new(ErrorKind::Timeout)) } else { Ok(symbol.len()) }
//!         }
//!     }));
//! assert_eq!(svc.oneshot("ACME").await.unwrap(), 4);
//! assert_eq!(calls.load(Ordering::Relaxed), 2);
//! # }
//! ```
//!
//! What is retried, the delays, the budget and the deadline are the policy's: see
//! [`resilience_core::retry`]. The loop itself is the core's
//! [`Retrying`](resilience_core::retry::Retrying) future; the layers add what only a
//! service can do:
//!
//! - **Readiness before every attempt.** Each call moves the ready inner service into
//!   its future (leaving a clone behind, as tower's own `Retry` does) and polls it ready
//!   again before each further attempt, so a retry waits for capacity instead of
//!   overrunning an inner bulkhead or breaker. That wait ends at the call's deadline
//!   (ambient or `max_elapsed`): a service still not ready then ends the call with
//!   `DeadlineExceeded` and `retry_stop=deadline`, never later.
//! - **Replay by clone.** [`RetryService`] clones the request once per call, before the
//!   first attempt, and again for each further one. The first attempt is made in `call`,
//!   as tower's own `Retry` makes it.
//! - **The deadline follows the call.** The deadline ambient where the call starts
//!   (`call`, or for [`HttpRetryService`] once the body is read) stays ambient while the
//!   call is polled, also in another task, together with any deadline ambient there (the
//!   earlier wins): every attempt, not only the first, sees it.
//! - **HTTP bodies.** [`HttpRetryService`] buffers the body (up to
//!   [`max_body`](HttpRetryLayer::max_body), 64 KiB by default) so every attempt sends the
//!   same bytes. A larger body is streamed through once and not retried, with an INFO
//!   event saying so.
//! - **Idempotency.** By default [`HttpRetryService`] retries only the idempotent methods
//!   of RFC 9110 §9.2.2 (`GET`, `HEAD`, `OPTIONS`, `TRACE`, `PUT` and `DELETE`), or
//!   requests carrying an `Idempotency-Key` header: repeating a `POST` that may have
//!   been processed can charge a card twice. Requests you know are safe to repeat (gRPC
//!   calls, which are all `POST`s, or known-idempotent `POST`s) are opted in with
//!   [`also_retry_if`](HttpRetryLayer::also_retry_if).
//!
//! The layers' error type is [`resilience_core::Error`], with the attempts made and the
//! field `retry_stop` when retrying stopped on an error. A classifier sees
//! `&Result<S::Response, resilience_core::Error>` (the inner service's errors arrive
//! converted). A response that is still classified as a failure after the last attempt
//! (a `503` from [`HttpStatus`](crate::http::HttpStatus)) is returned as the response,
//! not turned into an error.

mod future;
pub mod http;
mod layer;

use std::task::{Context, Poll};

pub use resilience_core::retry::{
    Backoff, Jitter, RetryBudget, RetryBudgetBuilder, RetryPolicy, RetryPolicyBuilder,
};
use resilience_core::{BoxError, Classify, Error};
use tower_service::Service;

pub use self::future::ResponseFuture;
pub use self::http::{HttpRetryLayer, HttpRetryService};
pub use self::layer::RetryLayer;
pub use crate::replay::Replay;

/// Retries a service's calls through a [`RetryPolicy`], replaying requests by clone.
///
/// # Clone
///
/// Clones share the policy (its budget and metric handles) and clone the inner service
/// and the classifier.
#[derive(Clone, Debug)]
pub struct RetryService<S, C> {
    inner: S,
    policy: RetryPolicy,
    classifier: C,
}

impl<S, C> RetryService<S, C> {
    /// Wraps `inner`.
    pub const fn new(inner: S, policy: RetryPolicy, classifier: C) -> Self {
        Self {
            inner,
            policy,
            classifier,
        }
    }

    /// The policy.
    pub fn policy(&self) -> &RetryPolicy {
        &self.policy
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

impl<S, C, Req> Service<Req> for RetryService<S, C>
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

    #[inline(always)]
    fn call(&mut self, request: Req) -> Self::Future {
        let template = request.clone();
        let clone = self.inner.clone();
        let ready = std::mem::replace(&mut self.inner, clone);
        ResponseFuture::new(
            self.policy.clone(),
            ready,
            request,
            Some(template),
            self.classifier.clone(),
        )
    }
}
