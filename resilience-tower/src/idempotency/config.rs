//! [`IdempotencyLayerBuilder`]: options, defaults and their validation.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{
    CONNECTION, CONTENT_LENGTH, DATE, SET_COOKIE, TE, TRAILER, TRANSFER_ENCODING, UPGRADE,
};
use http::request::Parts;
use http::{HeaderName, Method};
use resilience_core::idempotency::IdempotencyStore;
use resilience_core::{ConfigError, Name, Primitive};

use super::IdempotencyLayer;

/// The request header carrying the key, as the IETF draft names it.
pub const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");

/// The response header marking a replayed response (`Idempotent-Replayed: true`), as
/// Stripe sends it.
pub const IDEMPOTENT_REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");

/// The response headers never stored (so never replayed) unless you ask: `set-cookie`,
/// because a replayed cookie could hand one session's credentials to whoever replays the
/// key; the hop-by-hop headers (`connection`, `keep-alive`, `proxy-connection`, `te`,
/// `trailer`, `transfer-encoding`, `upgrade`), which describe one connection, not the
/// response; and `content-length` and `date`, which the replay gets afresh. Every other
/// header is stored and replayed.
pub const DEFAULT_UNSTORED_HEADERS: [HeaderName; 10] = [
    SET_COOKIE,
    CONNECTION,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    TE,
    TRAILER,
    TRANSFER_ENCODING,
    UPGRADE,
    CONTENT_LENGTH,
    DATE,
];

/// Which response headers a record keeps.
#[derive(Clone, Debug)]
pub(crate) enum StoredHeaders {
    /// Every header but these.
    AllBut(Vec<HeaderName>),
    /// Only these.
    Only(Vec<HeaderName>),
}

impl StoredHeaders {
    pub(crate) fn stores(&self, name: &HeaderName) -> bool {
        match self {
            StoredHeaders::AllBut(names) => !names.contains(name),
            StoredHeaders::Only(names) => names.contains(name),
        }
    }
}

pub(crate) type ScopeFn = Arc<dyn Fn(&Parts) -> Option<Bytes> + Send + Sync>;

/// A scope hook as the layer keeps it.
pub(crate) fn scope_fn<F, B>(scope: F) -> ScopeFn
where
    F: Fn(&Parts) -> Option<B> + Send + Sync + 'static,
    B: Into<Bytes>,
{
    Arc::new(move |parts: &Parts| scope(parts).map(Into::into))
}

/// The validated configuration an [`IdempotencyLayer`] runs with.
#[derive(Clone)]
pub(crate) struct Config {
    pub(crate) name: Name,
    pub(crate) methods: Vec<Method>,
    pub(crate) require_key: bool,
    pub(crate) header: HeaderName,
    pub(crate) lock_ttl: Duration,
    pub(crate) record_ttl: Duration,
    pub(crate) max_request_body: usize,
    pub(crate) request_body_timeout: Duration,
    pub(crate) max_response_body: usize,
    pub(crate) stored_headers: StoredHeaders,
    pub(crate) scope: Option<ScopeFn>,
    /// Set by [`IdempotencyLayerBuilder::unscoped`]: no scope on purpose.
    pub(crate) unscoped: bool,
    pub(crate) conflict_retry_after: Duration,
    pub(crate) fail_open: bool,
    pub(crate) release_on_cancel: bool,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("name", &self.name)
            .field("methods", &self.methods)
            .field("require_key", &self.require_key)
            .field("header", &self.header)
            .field("lock_ttl", &self.lock_ttl)
            .field("record_ttl", &self.record_ttl)
            .field("max_request_body", &self.max_request_body)
            .field("request_body_timeout", &self.request_body_timeout)
            .field("max_response_body", &self.max_response_body)
            .field("stored_headers", &self.stored_headers)
            .field("scope", &self.scope.as_ref().map(|_| "Fn(&Parts)"))
            .field("unscoped", &self.unscoped)
            .field("conflict_retry_after", &self.conflict_retry_after)
            .field("fail_open", &self.fail_open)
            .field("release_on_cancel", &self.release_on_cancel)
            .finish()
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            name: Name::from_static("idempotency"),
            methods: vec![Method::POST, Method::PATCH],
            require_key: false,
            header: IDEMPOTENCY_KEY,
            lock_ttl: Duration::from_secs(60),
            record_ttl: Duration::from_secs(24 * 60 * 60),
            max_request_body: 2 * 1024 * 1024,
            request_body_timeout: Duration::from_secs(60),
            max_response_body: 2 * 1024 * 1024,
            stored_headers: StoredHeaders::AllBut(DEFAULT_UNSTORED_HEADERS.to_vec()),
            scope: None,
            unscoped: false,
            conflict_retry_after: Duration::from_secs(1),
            fail_open: false,
            release_on_cancel: true,
        }
    }
}

/// Builds an [`IdempotencyLayer`]; [`build`](Self::build) validates the options.
///
/// | option | default | anchor |
/// |---|---|---|
/// | [`name`](Self::name) | `"idempotency"` | metric label and error context |
/// | [`methods`](Self::methods) | `POST`, `PATCH` | the IETF draft: the methods that are not idempotent |
/// | [`require_key`](Self::require_key) | `false` | Stripe: the key is optional |
/// | [`header`](Self::header) | `Idempotency-Key` | the IETF draft |
/// | [`lock_ttl`](Self::lock_ttl) | 60 s | longer than a typical request timeout |
/// | [`record_ttl`](Self::record_ttl) | 24 h | Stripe keeps keys for at least 24 hours |
/// | [`max_request_body`](Self::max_request_body) | 2 MiB | axum's `DefaultBodyLimit` |
/// | [`request_body_timeout`](Self::request_body_timeout) | 60 s | nginx's `client_body_timeout` |
/// | [`max_response_body`](Self::max_response_body) | 2 MiB | the same |
/// | [`unstored_headers`](Self::unstored_headers) | all but [`DEFAULT_UNSTORED_HEADERS`] | never `set-cookie` |
/// | [`scope`](Self::scope) | **required**: set one, or opt out with [`unscoped`](Self::unscoped) | one client must never read another's response |
/// | [`conflict_retry_after`](Self::conflict_retry_after) | 1 s | `Retry-After` of a 409 |
/// | [`fail_open`](Self::fail_open) | `false` | a store outage answers 503 |
/// | [`release_on_cancel`](Self::release_on_cancel) | `true` | a dropped request frees its key |
pub struct IdempotencyLayerBuilder<St> {
    store: St,
    config: Config,
}

impl<St> fmt::Debug for IdempotencyLayerBuilder<St> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdempotencyLayerBuilder")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl<St: IdempotencyStore> IdempotencyLayerBuilder<St> {
    pub(crate) fn new(store: St) -> Self {
        Self {
            store,
            config: Config::default(),
        }
    }

    /// The instance name: the `name` label of the metrics and the instance in errors.
    #[must_use]
    pub fn name(mut self, name: impl Into<Name>) -> Self {
        self.config.name = name.into();
        self
    }

    /// The methods the layer protects; requests with other methods pass through untouched
    /// (even with a key). Must not be empty.
    #[must_use]
    pub fn methods(mut self, methods: impl IntoIterator<Item = Method>) -> Self {
        self.config.methods = methods.into_iter().collect();
        self
    }

    /// Whether a protected method must carry a key. `false` (the default) lets requests
    /// without one through unprotected, so adding the layer breaks no existing client;
    /// `true` answers them 400, as the IETF draft asks of operations documented to
    /// require the header.
    #[must_use]
    pub fn require_key(mut self, require: bool) -> Self {
        self.config.require_key = require;
        self
    }

    /// The header carrying the key.
    #[must_use]
    pub fn header(mut self, name: HeaderName) -> Self {
        self.config.header = name;
        self
    }

    /// How long a claim holds its key while the handler runs. A request whose handler
    /// outlives it loses the key: a duplicate arriving after that runs too, and the late
    /// result is not stored. Set it above your slowest handler (and above any deadline).
    #[must_use]
    pub fn lock_ttl(mut self, ttl: Duration) -> Self {
        self.config.lock_ttl = ttl;
        self
    }

    /// How long a completed response is kept for replay.
    #[must_use]
    pub fn record_ttl(mut self, ttl: Duration) -> Self {
        self.config.record_ttl = ttl;
        self
    }

    /// The largest request body read for fingerprinting; larger requests are answered
    /// 413 without running the handler.
    #[must_use]
    pub fn max_request_body(mut self, bytes: usize) -> Self {
        self.config.max_request_body = bytes;
        self
    }

    /// How long the request body may take to arrive in full (it is read before the key is
    /// claimed, to fingerprint it). A body still incomplete after that is answered 400
    /// (`InvalidRequest`) without running the handler, so a client that trickles its body
    /// cannot hold the request open for ever. The timer is armed only if the body has to
    /// be waited for.
    #[must_use]
    pub fn request_body_timeout(mut self, limit: Duration) -> Self {
        self.config.request_body_timeout = limit;
        self
    }

    /// The largest response body stored. A larger response is sent as it is but not
    /// stored (the key is released, so a retry runs the handler again).
    #[must_use]
    pub fn max_response_body(mut self, bytes: usize) -> Self {
        self.config.max_response_body = bytes;
        self
    }

    /// Stores (and replays) every response header but `names`, replacing the default
    /// deny-list [`DEFAULT_UNSTORED_HEADERS`] (keep `set-cookie` in it unless a replayed
    /// cookie cannot leak a session).
    #[must_use]
    pub fn unstored_headers(mut self, names: impl IntoIterator<Item = HeaderName>) -> Self {
        self.config.stored_headers = StoredHeaders::AllBut(names.into_iter().collect());
        self
    }

    /// Stores (and replays) only the response headers `names`: an allow-list instead of
    /// the default deny-list.
    #[must_use]
    pub fn stored_headers(mut self, names: impl IntoIterator<Item = HeaderName>) -> Self {
        self.config.stored_headers = StoredHeaders::Only(names.into_iter().collect());
        self
    }

    /// Stores `name` too: takes it off the deny-list, or adds it to the allow-list set
    /// with [`stored_headers`](Self::stored_headers).
    #[must_use]
    pub fn store_header(mut self, name: HeaderName) -> Self {
        match &mut self.config.stored_headers {
            StoredHeaders::AllBut(names) => names.retain(|n| *n != name),
            StoredHeaders::Only(names) if !names.contains(&name) => names.push(name),
            StoredHeaders::Only(_) => {}
        }
        self
    }

    /// Never stores `name`: adds it to the deny-list, or takes it off the allow-list set
    /// with [`stored_headers`](Self::stored_headers).
    #[must_use]
    pub fn skip_header(mut self, name: HeaderName) -> Self {
        match &mut self.config.stored_headers {
            StoredHeaders::Only(names) => names.retain(|n| *n != name),
            StoredHeaders::AllBut(names) if !names.contains(&name) => names.push(name),
            StoredHeaders::AllBut(_) => {}
        }
        self
    }

    /// Separates clients: `scope` reads the request head (typically the authenticated
    /// principal an auth layer put in the extensions) and returns the bytes that identify
    /// the caller. Each scope gets its own key namespace, and the scope is part of the
    /// fingerprint, so one client's key never returns another client's response, nor
    /// tells it that the key exists. The bytes are hashed, never stored as they are (a
    /// credential is a usable scope). Returning `None` puts the request in the shared
    /// anonymous scope: return it only for callers that may see each other's responses.
    ///
    /// A layer needs a scope, or [`unscoped`](Self::unscoped) said explicitly:
    /// [`build`](Self::build) refuses neither. Without one, any client that sends another
    /// client's key and request body gets that client's stored response (its status,
    /// `Location` and body), and with another body learns the key is in use (422).
    #[must_use]
    pub fn scope<F, B>(mut self, scope: F) -> Self
    where
        F: Fn(&Parts) -> Option<B> + Send + Sync + 'static,
        B: Into<Bytes>,
    {
        self.config.scope = Some(scope_fn(scope));
        self.config.unscoped = false;
        self
    }

    /// Opts out of [`scope`](Self::scope): every client shares one key namespace, so
    /// whoever sends a key (and the same request) gets the response stored under it.
    /// Safe only when keys cannot be guessed or learned by other clients, or when every
    /// client may read every response (a single trusted caller, an internal queue
    /// consumer). Replaces a scope set before.
    #[must_use]
    pub fn unscoped(mut self) -> Self {
        self.config.scope = None;
        self.config.unscoped = true;
        self
    }

    /// The `Retry-After` sent with a 409 while the first request with a key is running
    /// (a 409 the store answered itself carries the store's hint instead).
    #[must_use]
    pub fn conflict_retry_after(mut self, after: Duration) -> Self {
        self.config.conflict_retry_after = after;
        self
    }

    /// What to do when the store fails: `false` (the default) answers 503
    /// (`StoreUnavailable`); `true` runs the handler unprotected and logs a warning, for
    /// services that prefer availability over at-most-once. A store that could not claim
    /// the key but knows it is held (`IdempotencyConflict`, e.g. a Redis claim that timed
    /// out: see `RedisStore`) is answered 409 with the store's `Retry-After` either way.
    #[must_use]
    pub fn fail_open(mut self, fail_open: bool) -> Self {
        self.config.fail_open = fail_open;
        self
    }

    /// Whether a request whose response future is dropped (the client went away) while
    /// its handler runs releases its key at once (`true`, the default) or leaves it to
    /// expire after the lock TTL. See the module docs, "Cancellation".
    #[must_use]
    pub fn release_on_cancel(mut self, release: bool) -> Self {
        self.config.release_on_cancel = release;
        self
    }

    /// Validates the options and builds the layer, resolving its metric handles.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming the option when neither [`scope`](Self::scope) nor
    /// [`unscoped`](Self::unscoped) was set (option `scope`), `methods` is empty, or a
    /// TTL, a body cap, `request_body_timeout` or `conflict_retry_after` is zero.
    pub fn build(self) -> Result<IdempotencyLayer<St>, ConfigError> {
        let c = &self.config;
        let p = Primitive::Idempotency;
        if c.scope.is_none() && !c.unscoped {
            return Err(ConfigError::new(
                p,
                "scope",
                "must be set: `scope(..)` gives each client its own keys (one client must \
                 not read another's response); `unscoped()` shares one key space on purpose",
            ));
        }
        if c.methods.is_empty() {
            return Err(ConfigError::new(
                p,
                "methods",
                "must name at least one method",
            ));
        }
        for (option, value) in [
            ("lock_ttl", c.lock_ttl),
            ("record_ttl", c.record_ttl),
            ("request_body_timeout", c.request_body_timeout),
            ("conflict_retry_after", c.conflict_retry_after),
        ] {
            if value.is_zero() {
                return Err(ConfigError::zero_duration(p, option));
            }
        }
        for (option, value) in [
            ("max_request_body", c.max_request_body),
            ("max_response_body", c.max_response_body),
        ] {
            if value == 0 {
                return Err(ConfigError::zero_count(p, option));
            }
        }
        Ok(IdempotencyLayer::from_parts(self.store, self.config))
    }
}

#[cfg(test)]
mod tests {
    use resilience_core::idempotency::MemoryStore;

    use super::*;

    #[test]
    fn invalid_options_are_refused_by_name() {
        type Configure =
            fn(IdempotencyLayerBuilder<MemoryStore>) -> IdempotencyLayerBuilder<MemoryStore>;
        let cases: [(&str, Configure); 7] = [
            ("methods", |b| b.methods([])),
            ("lock_ttl", |b| b.lock_ttl(Duration::ZERO)),
            ("record_ttl", |b| b.record_ttl(Duration::ZERO)),
            ("max_request_body", |b| b.max_request_body(0)),
            ("request_body_timeout", |b| {
                b.request_body_timeout(Duration::ZERO)
            }),
            ("max_response_body", |b| b.max_response_body(0)),
            ("conflict_retry_after", |b| {
                b.conflict_retry_after(Duration::ZERO)
            }),
        ];
        for (option, configure) in cases {
            let err = configure(IdempotencyLayer::builder(MemoryStore::new()).unscoped())
                .build()
                .expect_err(option);
            assert_eq!(err.option(), option);
            assert_eq!(err.primitive(), Primitive::Idempotency);
        }
    }

    #[test]
    fn a_layer_without_a_scope_or_an_explicit_unscoped_is_a_config_error() {
        let err = IdempotencyLayer::builder(MemoryStore::new())
            .build()
            .expect_err("no scope");
        assert_eq!(err.option(), "scope");
        assert!(err.to_string().contains("unscoped()"), "{err}");
        let scoped = IdempotencyLayer::builder(MemoryStore::new())
            .unscoped()
            .scope(|parts: &Parts| parts.headers.get("x-user").map(|v| v.as_bytes().to_vec()));
        assert!(scoped.config.scope.is_some() && !scoped.config.unscoped);
        assert!(scoped.build().is_ok());
        let unscoped = IdempotencyLayer::builder(MemoryStore::new())
            .scope(|_: &Parts| Some(Bytes::new()))
            .unscoped();
        assert!(unscoped.config.scope.is_none());
        assert!(unscoped.build().is_ok());
    }

    #[test]
    fn defaults_build_and_never_store_set_cookie() {
        let builder = IdempotencyLayer::builder(MemoryStore::new()).unscoped();
        assert!(!builder.config.stored_headers.stores(&SET_COOKIE));
        assert!(
            builder
                .config
                .stored_headers
                .stores(&http::header::LOCATION)
        );
        assert!(builder.build().is_ok());
    }
}
