//! A real axum app on 127.0.0.1 with a slow handler behind the bulkhead layer.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::routing::get;
use http::StatusCode;
use resilience_core::ErrorKind;
use resilience_core::bulkhead::Bulkhead;
use resilience_tower::bulkhead::BulkheadLayer;
use resilience_tower::http::{HttpErrorLayer, ProblemConfig};
use tokio::sync::Semaphore;
use tower::ServiceBuilder;

use resilience_test_support::http::{get as http_get, problem_json, serve};

const CAPACITY: usize = 4;
const BURST: usize = 12;

/// A slow handler: it waits until the test opens `gate`, counting who got in.
fn app(
    bulkhead: Bulkhead,
    problems: ProblemConfig,
    entered: Arc<AtomicUsize>,
    gate: Arc<Semaphore>,
) -> Router {
    Router::new()
        .route(
            "/slow",
            get(move || {
                let entered = Arc::clone(&entered);
                let gate = Arc::clone(&gate);
                async move {
                    entered.fetch_add(1, Ordering::SeqCst);
                    gate.acquire().await.expect("gate open").forget();
                    "done"
                }
            }),
        )
        .layer(
            ServiceBuilder::new()
                .layer(HttpErrorLayer::with_config(problems))
                .layer(BulkheadLayer::new(bulkhead)),
        )
}

/// Sends a burst; checks that the excess is answered while the admitted requests are
/// still held in the handler, then lets those finish.
async fn burst(problems: ProblemConfig, expected: StatusCode) {
    let bulkhead = Bulkhead::builder()
        .name("slow")
        .max_concurrent(CAPACITY)
        .build()
        .unwrap();
    let entered = Arc::new(AtomicUsize::new(0));
    let gate = Arc::new(Semaphore::new(0));
    let addr = serve(app(
        bulkhead.clone(),
        problems,
        Arc::clone(&entered),
        Arc::clone(&gate),
    ))
    .await;

    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    for _ in 0..BURST {
        let tx = tx.clone();
        tokio::spawn(async move {
            let _ = tx.send(http_get(addr, "/slow").await);
        });
    }

    // Every refusal arrives while the gate is still shut: they did not wait for the slow
    // requests ahead of them.
    for _ in 0..BURST - CAPACITY {
        let response = rx.recv().await.expect("a response");
        assert_eq!(response.status(), expected);
        assert_eq!(response.headers()["retry-after"], "1");
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json"
        );
        let problem = problem_json(response.body());
        assert_eq!(problem["kind"], ErrorKind::BulkheadFull.as_str());
        assert_eq!(problem["status"], expected.as_u16());
    }
    assert_eq!(entered.load(Ordering::SeqCst), CAPACITY);
    assert_eq!(bulkhead.in_flight(), CAPACITY);

    // The admitted requests still succeed.
    gate.add_permits(BURST);
    for _ in 0..CAPACITY {
        let response = rx.recv().await.expect("a response");
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.body().as_ref(), b"done");
    }
    assert_eq!(
        entered.load(Ordering::SeqCst),
        CAPACITY,
        "no rejected request ran"
    );
    assert_eq!(bulkhead.in_flight(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_burst_beyond_capacity_gets_fast_503s_while_admitted_requests_succeed() {
    burst(ProblemConfig::new(), StatusCode::SERVICE_UNAVAILABLE).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_full_bulkhead_can_answer_429_instead() {
    let problems =
        ProblemConfig::new().with_status(ErrorKind::BulkheadFull, StatusCode::TOO_MANY_REQUESTS);
    burst(problems, StatusCode::TOO_MANY_REQUESTS).await;
}
