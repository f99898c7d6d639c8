use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use http::HeaderName;
use resilience_core::deadline::Enforcer;
use resilience_core::deadline::codec::TIMEOUT_MS;
use resilience_core::{ConfigError, Name, Primitive};
use tower_layer::Layer;

use super::DeadlineService;

/// The default cap on a caller's timeout: 60 s, as nginx's `proxy_read_timeout` (and the
/// AWS load balancers' idle timeout) — few requests outlive that behind a proxy anyway.
pub const DEFAULT_MAX: Duration = Duration::from_secs(60);

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
#[derive(Clone, Debug)]
pub struct DeadlineLayer {
    config: Arc<ServerConfig>,
}

pub(crate) struct ServerConfig {
    pub(crate) name: Name,
    pub(crate) max: Duration,
    pub(crate) default_timeout: Option<Duration>,
    pub(crate) header: HeaderName,
    pub(crate) ignore_malformed: bool,
    pub(crate) extension: bool,
    pub(crate) enforcer: Enforcer,
}

impl fmt::Debug for ServerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerConfig")
            .field("name", &self.name)
            .field("max", &self.max)
            .field("default_timeout", &self.default_timeout)
            .field("header", &self.header)
            .field("ignore_malformed", &self.ignore_malformed)
            .field("extension", &self.extension)
            .finish_non_exhaustive()
    }
}

impl DeadlineLayer {
    /// A layer with the defaults of [`DeadlineLayerBuilder`].
    pub fn new() -> Self {
        Self {
            config: Arc::new(DeadlineLayerBuilder::new().config()),
        }
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
#[derive(Clone, Debug)]
pub struct DeadlineLayerBuilder {
    name: Name,
    max: Duration,
    default_timeout: Option<Duration>,
    header: HeaderName,
    ignore_malformed: bool,
    extension: bool,
}

impl DeadlineLayerBuilder {
    fn new() -> Self {
        Self {
            name: Name::from_static("default"),
            max: DEFAULT_MAX,
            default_timeout: None,
            header: HeaderName::from_static(TIMEOUT_MS),
            ignore_malformed: false,
            extension: false,
        }
    }

    /// The instance name, for the `name` metric label and error context.
    #[must_use]
    pub fn name(mut self, name: impl Into<Name>) -> Self {
        self.name = name.into();
        self
    }

    /// The longest deadline a caller may ask for; longer ones are cut to this.
    #[must_use]
    pub fn max(mut self, max: Duration) -> Self {
        self.max = max;
        self
    }

    /// The deadline of a request that carries none.
    #[must_use]
    pub fn default_timeout(mut self, timeout: Duration) -> Self {
        self.default_timeout = Some(timeout);
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
        let p = Primitive::Deadline;
        if self.max.is_zero() {
            return Err(ConfigError::zero_duration(p, "max"));
        }
        if let Some(default) = self.default_timeout {
            if default.is_zero() {
                return Err(ConfigError::zero_duration(p, "default_timeout"));
            }
            if default > self.max {
                return Err(ConfigError::exceeds(
                    p,
                    "default_timeout",
                    default,
                    "max",
                    self.max,
                ));
            }
        }
        Ok(DeadlineLayer {
            config: Arc::new(self.config()),
        })
    }

    fn config(self) -> ServerConfig {
        ServerConfig {
            enforcer: Enforcer::new(self.name.clone()),
            name: self.name,
            max: self.max,
            default_timeout: self.default_timeout,
            header: self.header,
            ignore_malformed: self.ignore_malformed,
            extension: self.extension,
        }
    }
}
