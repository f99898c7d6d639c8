//! [`HealthService`]: a liveness or readiness endpoint as a tower service.

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use resilience_core::health::Health;
use tower_service::Service;

use super::response;

/// Which question a [`HealthService`] answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Probe {
    Liveness,
    Readiness,
}

/// Answers every request with [`Health::liveness`] or [`Health::readiness`] as an
/// `application/health+json` response ([`response`](super::response)): 200 for `pass`
/// and `warn`, 503 for `fail`. It never fails and ignores the request (method, path,
/// body): route it where you want it.
///
/// ```
/// use axum::Router;
/// use resilience_core::health::Health;
/// use resilience_tower::health::HealthService;
///
/// let health = Health::builder().build().unwrap();
/// let app: Router = Router::new()
///     .route_service("/livez", HealthService::liveness(health.clone()))
///     // Show check outputs (error text) to whoever can reach this port.
///     .route_service("/readyz", HealthService::readiness(health).expose_output(true));
/// # let _ = app;
/// ```
///
/// # Clone
///
/// Clones share the [`Health`] (its caches and lifecycle).
#[derive(Clone)]
pub struct HealthService {
    health: Health,
    probe: Probe,
    expose_output: bool,
}

impl HealthService {
    /// The liveness endpoint.
    pub fn liveness(health: Health) -> Self {
        Self {
            health,
            probe: Probe::Liveness,
            expose_output: false,
        }
    }

    /// The readiness endpoint.
    pub fn readiness(health: Health) -> Self {
        Self {
            health,
            probe: Probe::Readiness,
            expose_output: false,
        }
    }

    /// Include each check's `output` (its error text) in the body. Off by default: an
    /// error can name hosts, users or queries, and probes are often reachable by more
    /// people than the logs are.
    #[must_use]
    pub fn expose_output(mut self, expose: bool) -> Self {
        self.expose_output = expose;
        self
    }

    /// The [`Health`] answered from.
    pub fn health(&self) -> &Health {
        &self.health
    }
}

impl fmt::Debug for HealthService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HealthService")
            .field("probe", &self.probe)
            .field("expose_output", &self.expose_output)
            .finish_non_exhaustive()
    }
}

impl<B> Service<Request<B>> for HealthService {
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = ResponseFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _request: Request<B>) -> ResponseFuture {
        let expose = self.expose_output;
        let answer: Pin<Box<dyn Future<Output = _> + Send>> = match self.probe {
            Probe::Liveness => {
                let report = self.health.liveness();
                Box::pin(async move { response(report, expose) })
            }
            Probe::Readiness => {
                let health = self.health.clone();
                Box::pin(async move { response(health.readiness().await, expose) })
            }
        };
        ResponseFuture { answer }
    }
}

/// Response future of [`HealthService`].
pub struct ResponseFuture {
    answer: Pin<Box<dyn Future<Output = Response<Full<Bytes>>> + Send>>,
}

impl Future for ResponseFuture {
    type Output = Result<Response<Full<Bytes>>, Infallible>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.answer.as_mut().poll(cx).map(Ok)
    }
}

impl fmt::Debug for ResponseFuture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}
