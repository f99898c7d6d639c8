use http::request::Parts;
use resilience_core::retry::RetryPolicy;
use tower_layer::Layer;

use super::{HttpRetryService, Settings};
use crate::http::HttpStatus;
use crate::replay::http::Repeatable;

/// Retries HTTP requests through a [`RetryPolicy`], buffering bodies up to a cap; see
/// [`HttpRetryService`].
///
/// ```
/// use http::Method;
/// use resilience_tower::http::grpc;
/// use resilience_tower::retry::{HttpRetryLayer, RetryPolicy};
///
/// let policy = RetryPolicy::builder().name("inventory").build().unwrap();
/// // gRPC calls are all POSTs: opt them in (every method of this API is idempotent).
/// let layer = HttpRetryLayer::new(policy)
///     .max_body(16 * 1024)
///     .also_retry_if(|request| grpc::is_grpc(&request.headers));
/// # let _ = layer;
/// ```
#[derive(Clone, Debug)]
pub struct HttpRetryLayer<C = HttpStatus> {
    settings: Settings<C>,
}

impl HttpRetryLayer {
    /// A layer retrying with `policy`, classifying with [`HttpStatus`], buffering bodies
    /// of up to 64 KiB ([`DEFAULT_MAX_BODY`](super::DEFAULT_MAX_BODY)), retrying only the
    /// requests the default rule allows.
    pub fn new(policy: RetryPolicy) -> Self {
        Self {
            settings: Settings {
                policy,
                classifier: HttpStatus::new(),
                repeatable: Repeatable::default(),
            },
        }
    }
}

impl<C> HttpRetryLayer<C> {
    /// The largest body kept for replay; a request with a larger body is sent once. A kept
    /// body is one contiguous buffer however many chunks it arrived in (a body that came
    /// in one chunk is kept without a copy), so it holds about its own size in memory
    /// (at most twice, while the buffer grows), and every attempt sends it as one frame.
    #[must_use]
    pub fn max_body(mut self, bytes: usize) -> Self {
        self.settings.repeatable.max_body = bytes;
        self
    }

    /// Also retries the requests for which `retry` returns `true`, beyond the default
    /// rule (idempotent methods, or an `Idempotency-Key` header): the explicit opt-in for
    /// requests you know can be repeated safely, such as gRPC calls (always `POST`) or a
    /// `POST` endpoint that is idempotent by design. `retry` sees the request head.
    #[must_use]
    pub fn also_retry_if<F>(mut self, retry: F) -> Self
    where
        F: Fn(&Parts) -> bool + Send + Sync + 'static,
    {
        self.settings.repeatable.also_if(retry);
        self
    }

    /// The same layer, classifying with `classifier`.
    pub fn classifier<C2>(self, classifier: C2) -> HttpRetryLayer<C2> {
        let Settings {
            policy, repeatable, ..
        } = self.settings;
        HttpRetryLayer {
            settings: Settings {
                policy,
                classifier,
                repeatable,
            },
        }
    }

    pub(super) fn service<S>(self, inner: S) -> HttpRetryService<S, C> {
        HttpRetryService {
            inner,
            settings: self.settings,
        }
    }
}

impl<S, C: Clone> Layer<S> for HttpRetryLayer<C> {
    type Service = HttpRetryService<S, C>;

    fn layer(&self, inner: S) -> Self::Service {
        self.clone().service(inner)
    }
}
