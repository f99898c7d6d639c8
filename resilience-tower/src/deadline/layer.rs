use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use http::HeaderName;
use resilience_core::deadline::codec::TIMEOUT_MS;
use resilience_core::deadline::{DeadlinePolicy, DeadlinePolicyBuilder};
use resilience_core::{ConfigError, Name};
use tower_layer::Layer;

use super::DeadlineService;

/// The default cap on a caller's timeout: 60 s, as nginx's `proxy_read_timeout` (and the
/// AWS load balancers' idle timeout) — few requests outlive that behind a proxy anyway.
pub const DEFAULT_MAX: Duration = DeadlinePolicy::DEFAULT_MAX;

/// Applies [`DeadlineService`]: reads the caller's deadline from the request, enforces it.
///
/// ```
/// use std::time::Duration;
/// use resilience_tower::deadline::DeadlineLayer;
///
/// let layer = DeadlineLayer::builder()
///     .name("api")
///     .max(Duration::from_secs(10))
///     .default_timeout(Duration::from_secs(2))
///     .build()
///     .expect("valid config");
/// # let _ = layer;
/// ```
///
/// Limits that change at run time come from a [`DeadlinePolicy`], such as one a
/// configuration document names (`[deadline.api]`): the layer reads them on every
/// request, so a reload changes the next request's limit (requests under way keep
/// theirs).
///
/// ```
/// use std::time::Duration;
/// use resilience_core::Registry;
/// use resilience_tower::deadline::DeadlineLayer;
///
/// let registry = Registry::new();
/// let api = registry.deadline("api", |b| b.default_timeout(Duration::from_secs(2))).unwrap();
/// let layer = DeadlineLayer::builder().policy(api.clone()).build().unwrap();
/// // Later, from code or `registry.apply(&settings)`:
/// api.reconfigure(resilience_core::deadline::DeadlinePolicy::builder()
///     .default_timeout(Duration::from_millis(500)))
///     .unwrap();
/// # let _ = layer;
/// ```
#[derive(Clone, Debug)]
pub struct DeadlineLayer {
    config: Arc<ServerConfig>,
}

pub(crate) struct ServerConfig {
    /// The name, the enforcer and the limits (`max`, `default_timeout`), read per request.
    pub(crate) policy: DeadlinePolicy,
    pub(crate) header: HeaderName,
    pub(crate) ignore_malformed: bool,
    pub(crate) extension: bool,
}

impl fmt::Debug for ServerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerConfig")
            .field("policy", &self.policy)
            .field("header", &self.header)
            .field("ignore_malformed", &self.ignore_malformed)
            .field("extension", &self.extension)
            .finish_non_exhaustive()
    }
}

impl DeadlineLayer {
    /// A layer with the defaults of [`DeadlineLayerBuilder`].
    pub fn new() -> Self {
        DeadlineLayerBuilder::new()
            .build()
            .expect("the defaults are valid")
    }

    /// Starts a configuration.
    pub fn builder() -> DeadlineLayerBuilder {
        DeadlineLayerBuilder::new()
    }
}

impl Default for DeadlineLayer {
    fn default() -> Self {
        Self::new()
    }
}

impl<S> Layer<S> for DeadlineLayer {
    type Service = DeadlineService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        DeadlineService::new(inner, Arc::clone(&self.config))
    }
}

/// Configures a [`DeadlineLayer`].
///
/// | option | default | why |
/// |---|---|---|
/// | [`name`](Self::name) | `"default"` | metric label and error context |
/// | [`max`](Self::max) | 60 s ([`DEFAULT_MAX`]) | a caller cannot buy more time than this |
/// | [`default_timeout`](Self::default_timeout) | none | as gRPC: no deadline unless the caller sets one |
/// | [`header`](Self::header) | `connect-timeout-ms` ([`TIMEOUT_MS`]) | see [`TIMEOUT_MS`] |
/// | [`ignore_malformed`](Self::ignore_malformed) | `false` | a malformed header is a 400 |
/// | [`request_extension`](Self::request_extension) | `false` | handlers read [`Deadline::current`](resilience_core::Deadline::current) (or the `AmbientDeadline` extractor, feature `axum`) without an allocation |
/// | [`policy`](Self::policy) | the layer's own | name, `max` and `default_timeout` from a shared, reloadable [`DeadlinePolicy`] |
#[derive(Clone, Debug)]
pub struct DeadlineLayerBuilder {
    limits: Limits,
    header: HeaderName,
    ignore_malformed: bool,
    extension: bool,
}

/// Where a layer's name and limits come from.
#[derive(Clone, Debug)]
enum Limits {
    Own(DeadlinePolicyBuilder),
    Shared(DeadlinePolicy),
}

impl DeadlineLayerBuilder {
    fn new() -> Self {
        Self {
            limits: Limits::Own(DeadlinePolicy::builder()),
            header: HeaderName::from_static(TIMEOUT_MS),
            ignore_malformed: false,
            extension: false,
        }
    }

    /// Applies `f` to the layer's own limits (after [`policy`](Self::policy), to a fresh
    /// set with the defaults).
    fn with_own(mut self, f: impl FnOnce(DeadlinePolicyBuilder) -> DeadlinePolicyBuilder) -> Self {
        let own = match self.limits {
            Limits::Own(b) => b,
            Limits::Shared(_) => DeadlinePolicy::builder(),
        };
        self.limits = Limits::Own(f(own));
        self
    }

    /// The instance name, for the `name` metric label and error context.
    #[must_use]
    pub fn name(self, name: impl Into<Name>) -> Self {
        self.with_own(|b| b.name(name))
    }

    /// The longest deadline a caller may ask for; longer ones are cut to this.
    #[must_use]
    pub fn max(self, max: Duration) -> Self {
        self.with_own(|b| b.max(max))
    }

    /// The deadline of a request that carries none.
    #[must_use]
    pub fn default_timeout(self, timeout: Duration) -> Self {
        self.with_own(|b| b.default_timeout(timeout))
    }

    /// Takes the name, `max` and `default_timeout` from `policy`, read on every request:
    /// its [`reconfigure`](DeadlinePolicy::reconfigure) (or a reloaded configuration
    /// document naming it) changes the next request's limits. Replaces what
    /// [`name`](Self::name), [`max`](Self::max) and
    /// [`default_timeout`](Self::default_timeout) set (and a later call of one of those
    /// replaces the policy).
    #[must_use]
    pub fn policy(mut self, policy: DeadlinePolicy) -> Self {
        self.limits = Limits::Shared(policy);
        self
    }

    /// The header carrying the timeout in milliseconds on non-gRPC requests (gRPC
    /// requests always use `grpc-timeout`).
    #[must_use]
    pub fn header(mut self, header: HeaderName) -> Self {
        self.header = header;
        self
    }

    /// Treat a malformed timeout header as absent (the default timeout applies) instead
    /// of answering 400.
    #[must_use]
    pub fn ignore_malformed(mut self, ignore: bool) -> Self {
        self.ignore_malformed = ignore;
        self
    }

    /// Whether to insert the [`Deadline`](resilience_core::Deadline) into the request
    /// extensions too, for code that reads it from the request rather than from
    /// [`Deadline::current`](resilience_core::Deadline::current). Off by default: the
    /// ambient deadline carries the same value to the handler for free, while an
    /// extension costs every request the allocations of `http::Extensions` (its map and
    /// the boxed value) and makes every clone of the request (a retry's) copy them.
    #[must_use]
    pub fn request_extension(mut self, insert: bool) -> Self {
        self.extension = insert;
        self
    }

    /// Validates the configuration: `max` longer than zero, `default_timeout` (if set)
    /// longer than zero and not above `max`.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming the option at fault.
    pub fn build(self) -> Result<DeadlineLayer, ConfigError> {
        let policy = match self.limits {
            Limits::Own(b) => b.build()?,
            Limits::Shared(policy) => policy,
        };
        Ok(DeadlineLayer {
            config: Arc::new(ServerConfig {
                policy,
                header: self.header,
                ignore_malformed: self.ignore_malformed,
                extension: self.extension,
            }),
        })
    }
}
