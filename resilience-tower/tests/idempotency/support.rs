//! The app under test (an axum router behind the layer), a real server on 127.0.0.1 and a
//! real HTTP/1 client.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::routing;
use bytes::Bytes;
use http::header::{CONTENT_TYPE, LOCATION, SET_COOKIE};
use http::request::Parts;
use http::{HeaderValue, Method, Request, Response, StatusCode, Uri};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use resilience_core::idempotency::IdempotencyStore;
use resilience_tower::http::HttpErrorLayer;
use resilience_tower::idempotency::{IdempotencyLayer, IdempotencyLayerBuilder};
use tower::ServiceBuilder;
use tower::util::MapRequestLayer;

/// How many times each handler ran, and how long `/charge` takes.
#[derive(Debug, Default)]
pub(crate) struct Handlers {
    pub(crate) charges: AtomicUsize,
    pub(crate) flaky: AtomicUsize,
    pub(crate) big: AtomicUsize,
    pub(crate) reads: AtomicUsize,
    pub(crate) charge_delay_ms: AtomicU64,
}

impl Handlers {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    pub(crate) fn charges(&self) -> usize {
        self.charges.load(Ordering::SeqCst)
    }
}

/// The authenticated caller, as an auth layer would put it in the request extensions.
#[derive(Clone, Debug)]
pub(crate) struct Principal(pub(crate) String);

/// The scope hook the apps use: the principal's name.
pub(crate) fn principal_scope(parts: &Parts) -> Option<Vec<u8>> {
    parts
        .extensions
        .get::<Principal>()
        .map(|p| p.0.clone().into_bytes())
}

/// The layer with the test's options, over `store`.
pub(crate) fn layer<S: IdempotencyStore + 'static>(
    store: &Arc<S>,
    configure: impl FnOnce(IdempotencyLayerBuilder<Arc<S>>) -> IdempotencyLayerBuilder<Arc<S>>,
) -> IdempotencyLayer<Arc<S>> {
    configure(IdempotencyLayer::builder(Arc::clone(store)).unscoped())
        .build()
        .expect("valid config")
}

/// Routes behind (outermost first) `HttpErrorLayer`, a stand-in auth layer that turns an
/// `x-user` header into a [`Principal`], and the idempotency layer.
///
/// - `POST /charge`: counts, waits `charge_delay_ms`, answers 201 with a body naming the
///   charge number and echoing the request body, plus `location`, `set-cookie` and
///   `x-trace` headers; `GET /charge` (not protected) counts reads.
/// - `POST /flaky`: 503 the first time, 201 after.
/// - `POST /big?len=N`: a 200 body of N bytes.
pub(crate) fn app<St: IdempotencyStore + 'static>(
    layer: IdempotencyLayer<St>,
    handlers: Arc<Handlers>,
) -> Router {
    Router::new()
        .route("/charge", routing::post(charge).get(read))
        .route("/flaky", routing::post(flaky))
        .route("/big", routing::post(big))
        .with_state(handlers)
        .layer(
            ServiceBuilder::new()
                .layer(HttpErrorLayer::new())
                .layer(MapRequestLayer::new(authenticate))
                .layer(layer),
        )
}

fn authenticate(mut request: Request<axum::body::Body>) -> Request<axum::body::Body> {
    if let Some(user) = request
        .headers()
        .get("x-user")
        .and_then(|v| v.to_str().ok())
    {
        let principal = Principal(user.to_owned());
        request.extensions_mut().insert(principal);
    }
    request
}

async fn charge(State(h): State<Arc<Handlers>>, body: Bytes) -> Response<axum::body::Body> {
    let n = h.charges.fetch_add(1, Ordering::SeqCst) + 1;
    let delay = h.charge_delay_ms.load(Ordering::SeqCst);
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    let body = format!(
        "{{\"charge\":{n},\"request\":{:?}}}",
        String::from_utf8_lossy(&body)
    );
    Response::builder()
        .status(StatusCode::CREATED)
        .header(CONTENT_TYPE, "application/json")
        .header(LOCATION, format!("/charges/{n}"))
        .header(SET_COOKIE, "session=secret")
        .header("x-trace", "abc")
        .body(axum::body::Body::from(body))
        .expect("valid response")
}

async fn read(State(h): State<Arc<Handlers>>) -> &'static str {
    h.reads.fetch_add(1, Ordering::SeqCst);
    "read"
}

async fn flaky(State(h): State<Arc<Handlers>>) -> (StatusCode, &'static str) {
    match h.flaky.fetch_add(1, Ordering::SeqCst) {
        0 => (StatusCode::SERVICE_UNAVAILABLE, "try again"),
        _ => (StatusCode::CREATED, "done"),
    }
}

async fn big(State(h): State<Arc<Handlers>>, uri: Uri) -> Vec<u8> {
    h.big.fetch_add(1, Ordering::SeqCst);
    let len = uri
        .query()
        .and_then(|q| q.strip_prefix("len="))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    vec![b'x'; len]
}

/// A real HTTP/1 client.
#[derive(Clone, Debug)]
pub(crate) struct HttpClient {
    client: Client<HttpConnector, Full<Bytes>>,
    addr: SocketAddr,
}

impl HttpClient {
    pub(crate) fn new(addr: SocketAddr) -> Self {
        Self {
            client: Client::builder(TokioExecutor::new()).build_http(),
            addr,
        }
    }

    /// Sends `request` (a path-only URI is completed with the server's address) and reads
    /// the whole response.
    pub(crate) async fn send(&self, request: Request<Bytes>) -> Response<Bytes> {
        let (mut parts, body) = request.into_parts();
        parts.uri = format!("http://{}{}", self.addr, parts.uri)
            .parse()
            .expect("valid uri");
        let request = Request::from_parts(parts, Full::new(body));
        let response = self.client.request(request).await.expect("server answers");
        let (parts, body) = response.into_parts();
        let body = body.collect().await.expect("body reads").to_bytes();
        Response::from_parts(parts, body)
    }
}

/// `method path` with an optional key header (raw bytes, so malformed keys can be sent),
/// and `body`.
pub(crate) fn request(
    method: Method,
    path: &str,
    key: Option<&[u8]>,
    body: &'static str,
) -> Request<Bytes> {
    let mut builder = Request::builder().method(method).uri(path);
    if let Some(key) = key {
        builder = builder.header(
            "idempotency-key",
            HeaderValue::from_bytes(key).expect("sendable header value"),
        );
    }
    builder
        .body(Bytes::from_static(body.as_bytes()))
        .expect("valid request")
}

/// A POST with a key.
pub(crate) fn post(path: &str, key: &str, body: &'static str) -> Request<Bytes> {
    request(Method::POST, path, Some(key.as_bytes()), body)
}

/// Adds `x-user: user` (the stand-in auth layer makes it the principal).
pub(crate) fn as_user(mut request: Request<Bytes>, user: &'static str) -> Request<Bytes> {
    request
        .headers_mut()
        .insert("x-user", HeaderValue::from_static(user));
    request
}

/// Whether the response is a replay.
pub(crate) fn replayed(response: &Response<Bytes>) -> bool {
    response
        .headers()
        .get("idempotent-replayed")
        .is_some_and(|v| v == "true")
}

/// The problem+json `kind` of an error response.
pub(crate) fn problem_kind(response: &Response<Bytes>) -> String {
    assert_eq!(
        response.headers()[CONTENT_TYPE],
        "application/problem+json",
        "status {}",
        response.status()
    );
    let value = resilience_test_support::http::problem_json(response.body());
    value["kind"].as_str().expect("kind").to_owned()
}
