//! The infallible layer inside a real `axum::Router` on 127.0.0.1, hit with a real client.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use http::{Request, Response, StatusCode};
use resilience_core::{BoxError, Error, ErrorKind, Primitive};
use resilience_tower::http::{HttpError, HttpErrorLayer, ProblemConfig};
use tower::{Layer, Service, ServiceBuilder};

use resilience_test_support::http::{get as http_get, problem_json, serve};

/// A stand-in for a resilience layer: rejects requests to `/shed` before they reach the
/// handler, the way a full bulkhead or an open breaker would, and counts what it let in.
#[derive(Clone)]
struct ShedLayer {
    admitted: Arc<AtomicUsize>,
}

#[derive(Clone)]
struct Shed<S> {
    inner: S,
    admitted: Arc<AtomicUsize>,
}

impl<S> Layer<S> for ShedLayer {
    type Service = Shed<S>;

    fn layer(&self, inner: S) -> Shed<S> {
        Shed {
            inner,
            admitted: Arc::clone(&self.admitted),
        }
    }
}

impl<S> Service<Request<Body>> for Shed<S>
where
    S: Service<Request<Body>, Response = Response<Body>, Error = Infallible> + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response<Body>;
    type Error = BoxError;
    type Future = std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<Response<Body>, BoxError>> + Send>,
    >;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(|never| match never {})
    }

    fn call(&mut self, req: Request<Body>) -> Self::Future {
        if req.uri().path() == "/shed" {
            let err = Error::new(ErrorKind::BulkheadFull)
                .with_primitive(Primitive::Bulkhead)
                .with_instance("handlers")
                .with_retry_after(Duration::from_secs(2));
            return Box::pin(async move { Err(err.into()) });
        }
        self.admitted.fetch_add(1, Ordering::SeqCst);
        let fut = self.inner.call(req);
        Box::pin(async move { fut.await.map_err(|never| match never {}) })
    }
}

async fn app(config: ProblemConfig) -> (std::net::SocketAddr, Arc<AtomicUsize>) {
    let admitted = Arc::new(AtomicUsize::new(0));
    let router = Router::new()
        .route("/ok", get(|| async { "fine" }))
        .route("/shed", get(|| async { "never reached" }))
        .route(
            "/handler-error",
            get(|| async {
                Err::<&str, HttpError>(Error::new(ErrorKind::DeadlineExceeded).into())
            }),
        )
        .route(
            "/io",
            get(|| async {
                std::fs::read("/definitely/not/here/secret.txt")?;
                Ok::<_, HttpError>("unreachable")
            }),
        )
        .route(
            "/upstream",
            get(|| async {
                let failure: BoxError = "db password rejected".into();
                Err::<&str, HttpError>(failure.into())
            }),
        )
        .layer(
            ServiceBuilder::new()
                .layer(HttpErrorLayer::with_config(config))
                .layer(ShedLayer {
                    admitted: Arc::clone(&admitted),
                }),
        );
    (serve(router).await, admitted)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejection_comes_back_as_503_problem_json_with_retry_after() {
    let (addr, admitted) = app(ProblemConfig::default()).await;

    let response = http_get(addr, "/shed").await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    assert_eq!(response.headers()["retry-after"], "2");
    let body = problem_json(response.body());
    assert_eq!(body["kind"], "bulkhead_full");
    assert_eq!(body["status"], 503);
    assert_eq!(
        admitted.load(Ordering::SeqCst),
        0,
        "the handler was never called"
    );

    let ok = http_get(addr, "/ok").await;
    assert_eq!(ok.status(), StatusCode::OK);
    assert_eq!(ok.body().as_ref(), b"fine");
    assert_eq!(admitted.load(Ordering::SeqCst), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_status_override_reaches_the_wire() {
    let config =
        ProblemConfig::new().with_status(ErrorKind::BulkheadFull, StatusCode::TOO_MANY_REQUESTS);
    let (addr, _) = app(config).await;
    let response = http_get(addr, "/shed").await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(problem_json(response.body())["status"], 429);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handlers_can_return_resilience_errors_directly() {
    let (addr, _) = app(ProblemConfig::default()).await;

    let response = http_get(addr, "/handler-error").await;
    assert_eq!(response.status(), StatusCode::GATEWAY_TIMEOUT);
    assert_eq!(problem_json(response.body())["kind"], "deadline_exceeded");

    let response = http_get(addr, "/upstream").await;
    assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
    let text = String::from_utf8_lossy(response.body()).into_owned();
    assert!(!text.contains("password"), "inner message leaked: {text}");

    // `?` on a plain `io::Error` works and does not leak the path.
    let response = http_get(addr, "/io").await;
    assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
    assert_eq!(problem_json(response.body())["kind"], "inner");
    let text = String::from_utf8_lossy(response.body()).into_owned();
    assert!(!text.contains("secret.txt"), "inner message leaked: {text}");
}

#[tokio::test]
async fn a_failed_poll_ready_is_answered_on_the_next_call() {
    #[derive(Clone)]
    struct NeverReady;

    impl Service<Request<()>> for NeverReady {
        type Response = Response<http_body_util::Full<bytes::Bytes>>;
        type Error = Error;
        type Future = std::future::Ready<Result<Self::Response, Error>>;

        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Error>> {
            Poll::Ready(Err(Error::new(ErrorKind::CircuitOpen)))
        }

        fn call(&mut self, _: Request<()>) -> Self::Future {
            panic!("must not be called after a failed poll_ready")
        }
    }

    let mut svc = HttpErrorLayer::new().layer(NeverReady);
    std::future::poll_fn(|cx| svc.poll_ready(cx)).await.unwrap();
    let response = svc.call(Request::new(())).await.unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(response.body().is_held());
}
