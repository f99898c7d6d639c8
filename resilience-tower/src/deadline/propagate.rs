//! The client side: [`PropagateDeadlineLayer`].

use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use http::{HeaderMap, HeaderName, Request};
use resilience_core::deadline::Enforcer;
use resilience_core::deadline::codec::TIMEOUT_MS;
use resilience_core::{BoxError, Deadline, Error, Name};
use tower_layer::Layer;
use tower_service::Service;

use super::ResponseFuture;
use super::wire::Wire;

/// Applies [`PropagateDeadlineService`]: writes the ambient deadline's remaining time into
/// outgoing requests.
///
/// ```
/// use std::time::Duration;
/// use http::Request;
/// use resilience_core::{Deadline, ErrorKind, deadline};
/// use resilience_tower::deadline::PropagateDeadlineLayer;
/// use tower::{ServiceBuilder, ServiceExt, service_fn};
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
/// let client = ServiceBuilder::new()
///     .layer(PropagateDeadlineLayer::new())
///     .service(service_fn(|req: Request<()>| async move {
///         Ok::<_, std::convert::Infallible>(req.headers().get("connect-timeout-ms").cloned())
///     }));
///
/// // Under a deadline, the remaining time goes out with the request.
/// let sent = deadline::scope(Deadline::after(Duration::from_millis(800)), async {
///     client.clone().oneshot(Request::new(())).await
/// })
/// .await
/// .unwrap();
/// assert_eq!(sent.unwrap(), "800");
///
/// // Without one, the request is untouched.
/// assert_eq!(client.clone().oneshot(Request::new(())).await.unwrap(), None);
///
/// // With nothing left, the request is never sent.
/// let err = Deadline::after(Duration::ZERO)
///     .run(client.oneshot(Request::new(())))
///     .await
///     .unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::DeadlineExceeded);
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct PropagateDeadlineLayer {
    config: Arc<ClientConfig>,
}

struct ClientConfig {
    margin: Duration,
    header: HeaderName,
    enforcer: Enforcer,
}

impl fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientConfig")
            .field("name", self.enforcer.name())
            .field("margin", &self.margin)
            .field("header", &self.header)
            .finish()
    }
}

impl ClientConfig {
    /// Writes the ambient deadline's remaining time, less the margin, into `headers`
    /// (unless they carry a shorter one already); `DeadlineExceeded` when nothing is left.
    fn stamp(&self, headers: &mut HeaderMap) -> Result<(), Error> {
        let Some(deadline) = Deadline::current() else {
            return Ok(());
        };
        let remaining = deadline.remaining().saturating_sub(self.margin);
        let wire = Wire::of(headers, &self.header);
        let Some(value) = wire.encode(remaining) else {
            return Err(self.enforcer.expired(deadline));
        };
        let shorter_already = matches!(wire.read(headers), Some(Ok(t)) if t <= remaining);
        if !shorter_already {
            wire.insert(headers, value);
        }
        Ok(())
    }
}

impl PropagateDeadlineLayer {
    /// What the service does to each request's headers, for clients that are not tower
    /// services (the reqwest middleware): writes the remaining time; `DeadlineExceeded`
    /// when nothing is left.
    #[cfg_attr(not(feature = "reqwest"), allow(dead_code))]
    pub(crate) fn stamp(&self, headers: &mut HeaderMap) -> Result<(), Error> {
        self.config.stamp(headers)
    }

    /// A layer with the defaults of [`PropagateDeadlineLayerBuilder`].
    pub fn new() -> Self {
        PropagateDeadlineLayerBuilder::new().build()
    }

    /// Starts a configuration.
    pub fn builder() -> PropagateDeadlineLayerBuilder {
        PropagateDeadlineLayerBuilder::new()
    }
}

impl Default for PropagateDeadlineLayer {
    fn default() -> Self {
        Self::new()
    }
}

impl<S> Layer<S> for PropagateDeadlineLayer {
    type Service = PropagateDeadlineService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        PropagateDeadlineService {
            inner,
            config: Arc::clone(&self.config),
        }
    }
}

/// Configures a [`PropagateDeadlineLayer`].
///
/// | option | default | why |
/// |---|---|---|
/// | [`name`](Self::name) | `"default"` | metric label and error context |
/// | [`margin`](Self::margin) | zero | as gRPC, which sends the remaining time unchanged |
/// | [`header`](Self::header) | `connect-timeout-ms` ([`TIMEOUT_MS`]) | must match the server's |
#[derive(Clone, Debug)]
pub struct PropagateDeadlineLayerBuilder {
    name: Name,
    margin: Duration,
    header: HeaderName,
}

impl PropagateDeadlineLayerBuilder {
    fn new() -> Self {
        Self {
            name: Name::from_static("default"),
            margin: Duration::ZERO,
            header: HeaderName::from_static(TIMEOUT_MS),
        }
    }

    /// The instance name, for the `name` metric label and error context.
    #[must_use]
    pub fn name(mut self, name: impl Into<Name>) -> Self {
        self.name = name.into();
        self
    }

    /// Time subtracted from the remaining time before it is sent: the network and
    /// queueing time the request will spend before the next service starts its clock, so
    /// that the callee gives up no later than the caller does.
    #[must_use]
    pub fn margin(mut self, margin: Duration) -> Self {
        self.margin = margin;
        self
    }

    /// The header carrying the timeout in milliseconds on non-gRPC requests (gRPC
    /// requests always use `grpc-timeout`).
    #[must_use]
    pub fn header(mut self, header: HeaderName) -> Self {
        self.header = header;
        self
    }

    /// Builds the layer (every combination of options is valid).
    pub fn build(self) -> PropagateDeadlineLayer {
        PropagateDeadlineLayer {
            config: Arc::new(ClientConfig {
                margin: self.margin,
                header: self.header,
                enforcer: Enforcer::new(self.name),
            }),
        }
    }
}

/// The client side: writes the ambient deadline's remaining time, minus the margin, into
/// each outgoing request — `grpc-timeout` for gRPC requests, the millisecond header for
/// the rest.
///
/// - No ambient deadline ([`Deadline::current`] is `None` when `call` runs): the request
///   goes out untouched.
/// - Nothing left (zero after the margin, or under a millisecond for the millisecond
///   header): `DeadlineExceeded`, a rejection, without calling the inner service.
/// - The request already carries a shorter timeout in that header: it is kept.
///
/// The layer does not abandon the call when the deadline passes: the server layer (or
/// [`enforce`](resilience_core::deadline::enforce)) around the code making the call does
/// that, and the callee stops its own work at the same moment because it received the
/// same deadline.
///
/// # Clone
///
/// Clones share the configuration and metric handles (one `Arc`) and clone the inner
/// service.
#[derive(Clone, Debug)]
pub struct PropagateDeadlineService<S> {
    inner: S,
    config: Arc<ClientConfig>,
}

impl<S> PropagateDeadlineService<S> {
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

impl<S, B> Service<Request<B>> for PropagateDeadlineService<S>
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
        match self.config.stamp(request.headers_mut()) {
            Ok(()) => ResponseFuture::unbounded(self.inner.call(request)),
            Err(expired) => ResponseFuture::failed(expired),
        }
    }
}
