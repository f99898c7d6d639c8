use std::fmt;
use std::sync::Arc;

use bytes::Bytes;
use http::request::Parts;

use resilience_core::idempotency::IdempotencyStore;
use tower_layer::Layer;

use super::config::{Config, IdempotencyLayerBuilder, scope_fn};
use super::telemetry::Metrics;
use super::{IdempotencyService, Shared};

/// Applies `Idempotency-Key` semantics to an HTTP service: see
/// [the module docs](super) for the behaviour and [`IdempotencyLayerBuilder`] for the
/// options.
///
/// # Clone
///
/// Clones share the store, the configuration and the metric handles (one `Arc`); every
/// service the layer wraps shares them too, so the key space is one per layer instance
/// (and one per store: two layers over one shared store see each other's keys).
pub struct IdempotencyLayer<St> {
    shared: Arc<Shared<St>>,
}

impl<St: IdempotencyStore> IdempotencyLayer<St> {
    /// A layer over `store` with the default options (see [`IdempotencyLayerBuilder`]),
    /// each client in its own key space as `scope` reads it from the request head (see
    /// [`IdempotencyLayerBuilder::scope`]).
    pub fn new<F, B>(store: St, scope: F) -> Self
    where
        F: Fn(&Parts) -> Option<B> + Send + Sync + 'static,
        B: Into<Bytes>,
    {
        let config = Config {
            scope: Some(scope_fn(scope)),
            ..Config::default()
        };
        Self::from_parts(store, config)
    }

    /// A layer over `store` with the default options and one key space shared by every
    /// client: see [`IdempotencyLayerBuilder::unscoped`] for when that is safe.
    pub fn unscoped(store: St) -> Self {
        let config = Config {
            unscoped: true,
            ..Config::default()
        };
        Self::from_parts(store, config)
    }

    /// A builder over `store`, to change the defaults.
    pub fn builder(store: St) -> IdempotencyLayerBuilder<St> {
        IdempotencyLayerBuilder::new(store)
    }

    pub(crate) fn from_parts(store: St, config: Config) -> Self {
        let metrics = Metrics::new(&config.name);
        Self {
            shared: Arc::new(Shared {
                store,
                config,
                metrics,
            }),
        }
    }

    /// The store.
    pub fn store(&self) -> &St {
        &self.shared.store
    }
}

impl<St> Clone for IdempotencyLayer<St> {
    fn clone(&self) -> Self {
        Self {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<St> fmt::Debug for IdempotencyLayer<St> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdempotencyLayer")
            .field("config", &self.shared.config)
            .finish_non_exhaustive()
    }
}

impl<S, St> Layer<S> for IdempotencyLayer<St> {
    type Service = IdempotencyService<S, St>;

    fn layer(&self, inner: S) -> Self::Service {
        IdempotencyService::new(inner, Arc::clone(&self.shared))
    }
}
