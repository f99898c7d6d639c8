//! `HttpRetryLayer` in front of a real HTTP client, against an axum upstream on
//! 127.0.0.1 that fails twice, then succeeds.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::routing::any;
use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body::{Body, Frame};
use http_body_util::Full;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use resilience_core::retry::{Backoff, Jitter, RetryPolicy};
use resilience_tower::body::PrefixedBody;
use resilience_tower::retry::HttpRetryLayer;
use tokio::net::TcpListener;
use tower::{Layer, ServiceExt};

/// The bodies the upstream received, one per attempt.
#[derive(Clone, Default)]
struct Upstream {
    bodies: Arc<Mutex<Vec<Bytes>>>,
}

async fn flaky(State(up): State<Upstream>, body: Bytes) -> StatusCode {
    let mut bodies = up.bodies.lock().unwrap();
    bodies.push(body);
    if bodies.len() <= 2 {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    }
}

async fn serve() -> (SocketAddr, Upstream) {
    let upstream = Upstream::default();
    let app = Router::new()
        .route("/charge", any(flaky))
        .with_state(upstream.clone());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (addr, upstream)
}

/// A body of chunks without a size hint, as a streamed upload arrives.
struct Chunks(VecDeque<Bytes>);

impl Body for Chunks {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        Poll::Ready(self.0.pop_front().map(|c| Ok(Frame::data(c))))
    }
}

type ClientOf<B> = Client<HttpConnector, PrefixedBody<B>>;

fn client<B>() -> ClientOf<B>
where
    B: Body<Data = Bytes> + Send + Unpin + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    Client::builder(TokioExecutor::new()).build_http()
}

fn layer(max_body: usize) -> HttpRetryLayer {
    let policy = RetryPolicy::builder()
        .max_attempts(3)
        .backoff(Backoff::constant(Duration::from_millis(5)))
        .jitter(Jitter::None)
        .no_budget()
        .build()
        .unwrap();
    HttpRetryLayer::new(policy).max_body(max_body)
}

fn request<B>(addr: SocketAddr, method: Method, key: Option<&str>, body: B) -> Request<B> {
    let mut builder = Request::builder()
        .method(method)
        .uri(format!("http://{addr}/charge"));
    if let Some(key) = key {
        builder = builder.header("idempotency-key", key);
    }
    builder.body(body).unwrap()
}

const PAYLOAD: &[u8] = b"{\"amount\":1250,\"currency\":\"EUR\"}";

#[tokio::test]
async fn a_post_without_an_idempotency_key_is_not_retried() {
    let (addr, upstream) = serve().await;
    let svc = layer(1024).layer(client::<Full<Bytes>>());
    let body = Full::new(Bytes::from_static(PAYLOAD));
    let response = svc
        .oneshot(request(addr, Method::POST, None, body))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(upstream.bodies.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn a_post_with_an_idempotency_key_is_retried_with_identical_bodies() {
    let (addr, upstream) = serve().await;
    let svc = layer(1024).layer(client::<Full<Bytes>>());
    let body = Full::new(Bytes::from_static(PAYLOAD));
    let response = svc
        .oneshot(request(addr, Method::POST, Some("k-1"), body))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let bodies = upstream.bodies.lock().unwrap();
    assert_eq!(bodies.len(), 3);
    assert!(bodies.iter().all(|b| b.as_ref() == PAYLOAD), "{bodies:?}");
}

#[tokio::test]
async fn a_streamed_put_is_buffered_and_every_attempt_sends_the_same_bytes() {
    let (addr, upstream) = serve().await;
    let svc = layer(1024).layer(client::<Chunks>());
    let chunks = Chunks(PAYLOAD.chunks(5).map(Bytes::copy_from_slice).collect());
    let response = svc
        .oneshot(request(addr, Method::PUT, None, chunks))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let bodies = upstream.bodies.lock().unwrap();
    assert_eq!(bodies.len(), 3);
    assert!(bodies.iter().all(|b| b.as_ref() == PAYLOAD));
}

#[tokio::test]
async fn a_body_over_the_cap_is_sent_once_whole() {
    let big = Bytes::from(vec![b'x'; 4096]);
    // Known length: refused for replay by its size hint.
    let (addr, upstream) = serve().await;
    let svc = layer(1024).layer(client::<Full<Bytes>>());
    let response = svc
        .oneshot(request(addr, Method::PUT, None, Full::new(big.clone())))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(*upstream.bodies.lock().unwrap(), std::slice::from_ref(&big));

    // Unknown length: found while reading; what was read goes first, then the rest.
    let (addr, upstream) = serve().await;
    let svc = layer(1024).layer(client::<Chunks>());
    let chunks = Chunks(big.chunks(300).map(Bytes::copy_from_slice).collect());
    let response = svc
        .oneshot(request(addr, Method::PUT, None, chunks))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(*upstream.bodies.lock().unwrap(), [big]);
}

#[tokio::test]
async fn a_get_is_retried_until_the_upstream_recovers() {
    let (addr, upstream) = serve().await;
    let svc = layer(1024).layer(client::<Full<Bytes>>());
    let response = svc
        .oneshot(request(addr, Method::GET, None, Full::new(Bytes::new())))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(upstream.bodies.lock().unwrap().len(), 3);
}

#[tokio::test]
async fn exactly_the_idempotent_methods_of_rfc_9110_are_retried() {
    let idempotent = [
        Method::GET,
        Method::HEAD,
        Method::OPTIONS,
        Method::TRACE,
        Method::PUT,
        Method::DELETE,
    ];
    for (method, attempts) in idempotent
        .into_iter()
        .map(|m| (m, 3))
        .chain([(Method::POST, 1), (Method::PATCH, 1)])
    {
        let (addr, upstream) = serve().await;
        let svc = layer(1024).layer(client::<Full<Bytes>>());
        let response = svc
            .oneshot(request(addr, method.clone(), None, Full::new(Bytes::new())))
            .await
            .unwrap();
        let expected = if attempts == 3 {
            StatusCode::OK
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        };
        assert_eq!(response.status(), expected, "{method}");
        assert_eq!(upstream.bodies.lock().unwrap().len(), attempts, "{method}");
    }
}

/// A body that arrives in many tiny chunks is kept as one contiguous buffer (not one
/// allocation per chunk, which made 2 MiB of 1-byte chunks take over 100 MB): every
/// attempt, the first included, gets it as a single data frame.
#[tokio::test]
async fn a_body_of_many_tiny_chunks_is_buffered_into_one_contiguous_frame() {
    use http_body_util::BodyExt;

    const LEN: usize = 64 * 1024;
    let frames = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&frames);
    let inner = tower::service_fn(move |req: Request<PrefixedBody<Chunks>>| {
        let seen = Arc::clone(&seen);
        async move {
            let mut body = req.into_body();
            let mut sizes = Vec::new();
            while let Some(frame) = body.frame().await {
                if let Ok(data) = frame.unwrap().into_data() {
                    sizes.push(data.len());
                }
            }
            let mut seen = seen.lock().unwrap();
            seen.push(sizes);
            let status = if seen.len() < 3 {
                StatusCode::SERVICE_UNAVAILABLE
            } else {
                StatusCode::OK
            };
            let response = http::Response::builder()
                .status(status)
                .body(Full::new(Bytes::new()));
            Ok::<_, Infallible>(response.unwrap())
        }
    });
    let svc = layer(LEN).layer(inner);
    let chunks = Chunks((0..LEN).map(|i| Bytes::from(vec![i as u8])).collect());
    let request = Request::put("/upload").body(chunks).unwrap();
    let response = svc.oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let frames = frames.lock().unwrap();
    assert_eq!(frames.len(), 3);
    for attempt in frames.iter() {
        assert_eq!(attempt, &[LEN], "one frame of the whole body");
    }
}
