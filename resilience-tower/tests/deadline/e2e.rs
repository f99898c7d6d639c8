//! A (300 ms deadline) → B (`DeadlineLayer`) → C, over real HTTP on 127.0.0.1.
//!
//! Real sockets and real time: paused time would auto-advance while a request is on the
//! wire. Bounds are generous (seconds for a 300 ms deadline); no assertion measures speed.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::Full;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use resilience_core::Deadline;
use resilience_tower::deadline::{DeadlineLayer, PropagateDeadlineLayer, PropagateDeadlineService};
use resilience_tower::http::HttpErrorLayer;
use tokio::net::TcpListener;
use tower::{Layer, ServiceBuilder, ServiceExt};

use crate::DropFlag;

type Outgoing = PropagateDeadlineService<Client<HttpConnector, Full<Bytes>>>;

fn outgoing() -> Outgoing {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    PropagateDeadlineLayer::new().layer(client)
}

async fn serve(app: Router) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

/// Calls `url` through the propagating client; the status, or 504 for a deadline error.
async fn call(client: Outgoing, url: String) -> StatusCode {
    let request = Request::get(url).body(Full::new(Bytes::new())).unwrap();
    match client.oneshot(request).await {
        Ok(response) => response.status(),
        Err(err) if err.kind() == resilience_core::ErrorKind::DeadlineExceeded => {
            StatusCode::GATEWAY_TIMEOUT
        }
        Err(_) => StatusCode::BAD_GATEWAY,
    }
}

async fn eventually(flag: &AtomicBool, what: &str) {
    let waited = tokio::time::timeout(Duration::from_secs(10), async {
        while !flag.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    assert!(waited.is_ok(), "{what} was never dropped");
}

#[derive(Clone, Default)]
struct Probes {
    /// The millisecond header C received.
    c_header: Arc<Mutex<Option<u64>>>,
    /// B's remaining time just before it called C.
    b_remaining: Arc<Mutex<Option<Duration>>>,
    b_dropped: Arc<AtomicBool>,
    c_dropped: Arc<AtomicBool>,
}

/// C: records the header it received, then works for a minute.
async fn start_c(probes: &Probes) -> SocketAddr {
    let p = probes.clone();
    let app = Router::new()
        .route(
            "/c",
            get(move |headers: http::HeaderMap| {
                let p = p.clone();
                async move {
                    let _guard = DropFlag(p.c_dropped.clone());
                    let ms = headers["connect-timeout-ms"]
                        .to_str()
                        .unwrap()
                        .parse()
                        .unwrap();
                    *p.c_header.lock().unwrap() = Some(ms);
                    tokio::time::sleep(Duration::from_secs(60)).await;
                    "c done"
                }
            }),
        )
        .layer(
            ServiceBuilder::new()
                .layer(HttpErrorLayer::new())
                .layer(DeadlineLayer::new()),
        );
    serve(app).await
}

/// B: the server under test; its handler calls C through the client layer.
async fn start_b(probes: &Probes, c: SocketAddr) -> SocketAddr {
    let p = probes.clone();
    let client = outgoing();
    let app = Router::new()
        .route(
            "/b",
            get(move || {
                let (p, client) = (p.clone(), client.clone());
                async move {
                    let _guard = DropFlag(p.b_dropped.clone());
                    *p.b_remaining.lock().unwrap() = Deadline::current().map(Deadline::remaining);
                    call(client, format!("http://{c}/c")).await
                }
            }),
        )
        .layer(
            ServiceBuilder::new()
                .layer(HttpErrorLayer::new())
                .layer(DeadlineLayer::new()),
        );
    serve(app).await
}

/// A: gives every request 300 ms and calls B.
async fn start_a(b: SocketAddr) -> SocketAddr {
    let client = outgoing();
    let deadline = DeadlineLayer::builder()
        .default_timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let app = Router::new()
        .route(
            "/a",
            get(move || call(client.clone(), format!("http://{b}/b"))),
        )
        .layer(
            ServiceBuilder::new()
                .layer(HttpErrorLayer::new())
                .layer(deadline),
        );
    serve(app).await
}

async fn plain_get(url: String, header: Option<&str>) -> StatusCode {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let mut request = Request::get(url);
    if let Some(ms) = header {
        request = request.header("connect-timeout-ms", ms);
    }
    let request = request.body(Full::new(Bytes::new())).unwrap();
    let response = tokio::time::timeout(Duration::from_secs(10), client.request(request))
        .await
        .expect("answered long before C's minute of work")
        .unwrap();
    response.status()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deadline_set_at_a_stops_work_at_b_and_c_and_a_gets_504() {
    let probes = Probes::default();
    let c = start_c(&probes).await;
    let b = start_b(&probes, c).await;
    let a = start_a(b).await;

    let status = plain_get(format!("http://{a}/a"), None).await;
    assert_eq!(status, StatusCode::GATEWAY_TIMEOUT);

    let b_remaining = probes
        .b_remaining
        .lock()
        .unwrap()
        .expect("B ran under a deadline");
    assert!(b_remaining <= Duration::from_millis(300), "{b_remaining:?}");
    let c_header = probes.c_header.lock().unwrap().expect("C was called");
    assert!(
        u128::from(c_header) <= b_remaining.as_millis(),
        "C saw {c_header} ms, B had {b_remaining:?}"
    );
    eventually(&probes.b_dropped, "B's handler").await;
    eventually(&probes.c_dropped, "C's handler").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn b_answers_504_itself_after_dropping_its_handler() {
    let probes = Probes::default();
    let c = start_c(&probes).await;
    let b = start_b(&probes, c).await;

    let status = plain_get(format!("http://{b}/b"), Some("300")).await;
    assert_eq!(status, StatusCode::GATEWAY_TIMEOUT);
    // The layer drops the handler before it answers: no waiting needed.
    assert!(probes.b_dropped.load(Ordering::SeqCst));
    let c_header = probes.c_header.lock().unwrap().expect("C was called");
    assert!(c_header <= 300, "{c_header}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_any_deadline_nothing_is_sent_and_nothing_is_cut() {
    let seen = Arc::new(Mutex::new(None));
    let s = seen.clone();
    let c = serve(Router::new().route(
        "/c",
        get(move |headers: http::HeaderMap| {
            let s = s.clone();
            async move {
                *s.lock().unwrap() = Some(headers.contains_key("connect-timeout-ms"));
                "ok"
            }
        }),
    ))
    .await;
    let client = outgoing();
    let b = serve(
        Router::new()
            .route(
                "/b",
                get(move || call(client.clone(), format!("http://{c}/c"))),
            )
            .layer(
                ServiceBuilder::new()
                    .layer(HttpErrorLayer::new())
                    .layer(DeadlineLayer::new()),
            ),
    )
    .await;
    assert_eq!(
        plain_get(format!("http://{b}/b"), None).await,
        StatusCode::OK
    );
    assert_eq!(*seen.lock().unwrap(), Some(false));
}
