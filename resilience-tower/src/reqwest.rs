//! The primitives around [reqwest](https://docs.rs/reqwest) calls, as a
//! [`reqwest-middleware`](https://docs.rs/reqwest-middleware) middleware:
//! [`ResilienceMiddleware`]. Needs feature `reqwest`.
//!
//! ```
//! use std::time::Duration;
//! use resilience_core::retry::RetryPolicy;
//! use resilience_core::{CircuitBreaker, Deadline, deadline};
//! use resilience_tower::deadline::PropagateDeadlineLayer;
//! use resilience_tower::reqwest::ResilienceMiddleware;
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! # let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
//! # let addr = listener.local_addr().unwrap();
//! # let app = axum::Router::new().route("/stock", axum::routing::get(|| async { "42" }));
//! # tokio::spawn(async move { axum::serve(listener, app).await });
//! let middleware = ResilienceMiddleware::new()
//!     .retry(RetryPolicy::builder().name("inventory").max_attempts(3).build().unwrap())
//!     .circuit_breaker(CircuitBreaker::builder().name("inventory").build().unwrap())
//!     .propagate_deadline(PropagateDeadlineLayer::new());
//! let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
//!     .with(middleware)
//!     .build();
//!
//! // Under a deadline, the call carries `connect-timeout-ms` and stops when it passes.
//! let call = client.get(format!("http://{addr}/stock")).send();
//! let response = deadline::scope(Deadline::after(Duration::from_secs(5)), call).await.unwrap();
//! assert_eq!(response.text().await.unwrap(), "42");
//! # }
//! ```
//!
//! # Why a middleware, and why here
//!
//! A `reqwest::Client` is not a tower service, so the tower layers cannot wrap it;
//! `reqwest-middleware` is how reqwest users add behaviour around calls. This module runs
//! the same core futures the layers run (`RetryPolicy::run_with`, `CircuitBreaker::call_with`,
//! `Bulkhead::call`, `RateLimiter::call`, `deadline::enforce`), so the behaviour is the
//! same and written once. It lives in `resilience-tower`, behind a feature, rather than in
//! a crate of its own because it reuses this crate's HTTP glue: [`HttpStatus`] (which
//! statuses are failures, `Retry-After`), the rule of which requests may be repeated, and
//! [`PropagateDeadlineLayer`]'s header codecs.
//!
//! # What runs, in what order
//!
//! The retry loop (when configured and the request may be repeated) runs attempts; each
//! attempt goes through the circuit breaker, then the rate limiter, then the bulkhead,
//! then gets the deadline written into its headers and is sent, cut off when the ambient
//! deadline passes. So a retry asks the breaker again (an open breaker refuses it and its
//! `retry_after` paces the loop), and a refused attempt never holds a bulkhead permit.
//!
//! # What is retried
//!
//! As with [`HttpRetryLayer`](crate::retry::HttpRetryLayer): only requests with an
//! idempotent method (`GET`, `HEAD`, `OPTIONS`, `TRACE`, `PUT`, `DELETE`) or an
//! `Idempotency-Key` header, unless [`also_retry_if`](ResilienceMiddleware::also_retry_if)
//! opts more in; and only requests reqwest can clone (a streaming body is sent once).
//! Responses are judged by [`HttpStatus`]: 5xx, 408 and 429 are retried, waiting at least
//! their `Retry-After`; the policy's retry budget, if it has one, caps retries overall.
//!
//! # Errors
//!
//! An error of the request itself (connect, timeout, body) comes back as reqwest's, as
//! [`reqwest_middleware::Error::Reqwest`]. A primitive's refusal or a passed deadline
//! comes back as [`reqwest_middleware::Error::Middleware`] holding a
//! [`resilience_core::Error`]; find it with `anyhow::Error::downcast_ref`.

use std::fmt;
use std::sync::Arc;

use http::Extensions;
use reqwest::{Request, Response};
use reqwest_middleware::{Middleware, Next};
use resilience_core::bulkhead::Bulkhead;
use resilience_core::classify::error_class;
use resilience_core::rate_limit::RateLimiter;
use resilience_core::retry::RetryPolicy;
use resilience_core::{CircuitBreaker, Class, Classify, Error, ErrorKind, deadline};

use crate::deadline::PropagateDeadlineLayer;
use crate::http::HttpStatus;
use crate::replay::http::repeatable_by_default;

/// A predicate opting requests the default rule refuses in for retries.
type RetryIf = Arc<dyn Fn(&Request) -> bool + Send + Sync>;

/// Deadline propagation, retries, a circuit breaker, a bulkhead and a rate limiter around
/// reqwest calls; see the [module docs](self). Each part is optional: a middleware with
/// none of them passes requests through.
#[derive(Clone, Default)]
pub struct ResilienceMiddleware {
    retry: Option<RetryPolicy>,
    breaker: Option<CircuitBreaker>,
    bulkhead: Option<Bulkhead>,
    rate_limiter: Option<RateLimiter>,
    propagate: Option<PropagateDeadlineLayer>,
    classifier: ReqwestStatus,
    also_retry_if: Option<RetryIf>,
}

impl ResilienceMiddleware {
    /// A middleware that does nothing yet; add the parts with the methods below.
    pub fn new() -> Self {
        Self::default()
    }

    /// Retries attempts through `policy` (its attempts, backoff, budget and deadline
    /// rules), for the requests that may be repeated.
    #[must_use]
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = Some(policy);
        self
    }

    /// Records every attempt's outcome in `breaker`, refusing attempts while it is open.
    #[must_use]
    pub fn circuit_breaker(mut self, breaker: CircuitBreaker) -> Self {
        self.breaker = Some(breaker);
        self
    }

    /// Holds a permit of `bulkhead` while an attempt is in flight.
    #[must_use]
    pub fn bulkhead(mut self, bulkhead: Bulkhead) -> Self {
        self.bulkhead = Some(bulkhead);
        self
    }

    /// Takes a turn from `limiter` before each attempt.
    #[must_use]
    pub fn rate_limiter(mut self, limiter: RateLimiter) -> Self {
        self.rate_limiter = Some(limiter);
        self
    }

    /// Writes the ambient deadline into each attempt's headers as `layer` would (its
    /// header and margin), and refuses an attempt when nothing is left.
    #[must_use]
    pub fn propagate_deadline(mut self, layer: PropagateDeadlineLayer) -> Self {
        self.propagate = Some(layer);
        self
    }

    /// Judges responses with `classifier` (for its `Retry-After` cap) instead of the
    /// default [`HttpStatus`].
    #[must_use]
    pub fn classifier(mut self, classifier: HttpStatus) -> Self {
        self.classifier = ReqwestStatus(classifier);
        self
    }

    /// Also retries the requests for which `retry` returns `true`, beyond the default
    /// rule: the explicit opt-in for a `POST` you know is safe to repeat.
    #[must_use]
    pub fn also_retry_if<F>(mut self, retry: F) -> Self
    where
        F: Fn(&Request) -> bool + Send + Sync + 'static,
    {
        self.also_retry_if = Some(Arc::new(retry));
        self
    }

    fn may_repeat(&self, request: &Request) -> bool {
        repeatable_by_default(request.method(), request.headers())
            || self.also_retry_if.as_ref().is_some_and(|f| f(request))
    }

    /// One attempt: breaker, rate limiter, bulkhead, deadline header, send under the
    /// deadline.
    async fn attempt(
        &self,
        mut request: Request,
        mut extensions: Extensions,
        next: Next<'_>,
    ) -> Result<Response, Error> {
        let send = async move {
            if let Some(layer) = &self.propagate {
                layer.stamp(request.headers_mut())?;
            }
            match deadline::enforce(next.run(request, &mut extensions)).await {
                Ok(Ok(response)) => Ok(response),
                Ok(Err(err)) => Err(Error::wrap(err)),
                Err(expired) => Err(expired),
            }
        };
        let bounded = async {
            match &self.bulkhead {
                Some(bulkhead) => bulkhead.call(send).await?,
                None => send.await,
            }
        };
        let limited = async {
            match &self.rate_limiter {
                Some(limiter) => limiter.call(bounded).await?,
                None => bounded.await,
            }
        };
        match &self.breaker {
            Some(breaker) => breaker.call_with(&self.classifier, limited).await,
            None => limited.await,
        }
    }
}

#[async_trait::async_trait]
impl Middleware for ResilienceMiddleware {
    async fn handle(
        &self,
        request: Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<Response> {
        let outcome = match &self.retry {
            Some(policy) if self.may_repeat(&request) && request.try_clone().is_some() => {
                let extensions = &*extensions;
                policy
                    .run_with(&self.classifier, || {
                        let attempt = request.try_clone();
                        let next = next.clone();
                        let extensions = extensions.clone();
                        async move {
                            match attempt {
                                Some(attempt) => self.attempt(attempt, extensions, next).await,
                                // Checked before the first attempt; reqwest clones a
                                // cloneable request every time.
                                None => Err(Error::new(ErrorKind::InvalidRequest)
                                    .with_detail("the request can no longer be cloned")),
                            }
                        }
                    })
                    .await
            }
            _ => self.attempt(request, extensions.clone(), next).await,
        };
        outcome.map_err(into_middleware_error)
    }
}

/// reqwest's own error as it was; a primitive's as `Error::Middleware`.
fn into_middleware_error(err: Error) -> reqwest_middleware::Error {
    if err.kind() != ErrorKind::Inner {
        return reqwest_middleware::Error::middleware(err);
    }
    match err.downcast::<reqwest_middleware::Error>() {
        Ok(original) => original,
        Err(err) => reqwest_middleware::Error::middleware(err),
    }
}

/// [`HttpStatus`] over `reqwest::Response`.
#[derive(Clone, Copy, Debug, Default)]
struct ReqwestStatus(HttpStatus);

impl<E: 'static> Classify<Response, E> for ReqwestStatus {
    fn classify(&self, result: &Result<Response, E>) -> Class {
        match result {
            Ok(response) => self.0.classify_parts(response.status(), response.headers()),
            Err(err) => error_class(err),
        }
    }
}

impl fmt::Debug for ResilienceMiddleware {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResilienceMiddleware")
            .field("retry", &self.retry)
            .field("breaker", &self.breaker)
            .field("bulkhead", &self.bulkhead)
            .field("rate_limiter", &self.rate_limiter)
            .field("propagate", &self.propagate)
            .field("classifier", &self.classifier.0)
            .field("also_retry_if", &self.also_retry_if.is_some())
            .finish()
    }
}
