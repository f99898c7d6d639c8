//! A real axum app with a failing upstream: the breaker opens, rejects fast with 503 +
//! `Retry-After`, half-opens after the open duration (paused time), and closes on recovery.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use http::StatusCode;
use resilience_core::CircuitBreaker;
use resilience_core::circuit_breaker::State;
use resilience_tower::circuit_breaker::CircuitBreakerLayer;
use resilience_tower::http::{HttpErrorLayer, HttpStatus};
use tower::ServiceBuilder;

use crate::common::problem_json;
use crate::support::{get as fetch, serve};

#[derive(Clone, Default)]
struct Upstream {
    healthy: Arc<AtomicBool>,
    calls: Arc<AtomicUsize>,
}

fn app(upstream: Upstream, breaker: CircuitBreaker) -> Router {
    Router::new()
        .route(
            "/charge",
            get(move || {
                let upstream = upstream.clone();
                async move {
                    upstream.calls.fetch_add(1, SeqCst);
                    if upstream.healthy.load(SeqCst) {
                        (StatusCode::OK, "charged")
                    } else {
                        (StatusCode::BAD_GATEWAY, "upstream down")
                    }
                }
            }),
        )
        .layer(
            ServiceBuilder::new()
                .layer(HttpErrorLayer::new())
                .layer(CircuitBreakerLayer::new(breaker).classifier(HttpStatus::new())),
        )
}

fn breaker() -> CircuitBreaker {
    CircuitBreaker::builder()
        .name("payments")
        .count_window(4)
        .open_duration(Duration::from_secs(30))
        .half_open_calls(2)
        .build()
        .unwrap()
}

#[tokio::test(start_paused = true)]
async fn opens_rejects_fast_with_503_and_retry_after_half_opens_and_closes_on_recovery() {
    let upstream = Upstream::default();
    let breaker = breaker();
    let addr = serve(app(upstream.clone(), breaker.clone())).await;

    // The upstream fails: its own 502s come through until the window trips the breaker.
    for _ in 0..4 {
        assert_eq!(
            fetch(addr, "/charge").await.status(),
            StatusCode::BAD_GATEWAY
        );
    }
    assert_eq!(breaker.state(), State::Open);
    assert_eq!(upstream.calls.load(SeqCst), 4);

    // Open: refused without calling the upstream, 503 + Retry-After + problem+json.
    tokio::time::advance(Duration::from_secs(10)).await;
    let refused = fetch(addr, "/charge").await;
    assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(refused.headers()["retry-after"], "20");
    assert_eq!(
        refused.headers()["content-type"],
        "application/problem+json"
    );
    let problem = problem_json(refused.body());
    assert_eq!(problem["kind"], "circuit_open");
    assert_eq!(upstream.calls.load(SeqCst), 4);

    // After the open duration the upstream has recovered: two probes close the breaker.
    upstream.healthy.store(true, SeqCst);
    tokio::time::advance(Duration::from_secs(20)).await;
    assert_eq!(fetch(addr, "/charge").await.status(), StatusCode::OK);
    assert_eq!(breaker.state(), State::HalfOpen);
    assert_eq!(fetch(addr, "/charge").await.status(), StatusCode::OK);
    assert_eq!(breaker.state(), State::Closed);
    assert_eq!(upstream.calls.load(SeqCst), 6);
    for _ in 0..3 {
        assert_eq!(fetch(addr, "/charge").await.status(), StatusCode::OK);
    }
}

#[tokio::test(start_paused = true)]
async fn a_failed_probe_reopens_for_another_open_duration() {
    let upstream = Upstream::default();
    let breaker = breaker();
    let addr = serve(app(upstream.clone(), breaker.clone())).await;
    for _ in 0..4 {
        fetch(addr, "/charge").await;
    }
    tokio::time::advance(Duration::from_secs(30)).await;
    assert_eq!(
        fetch(addr, "/charge").await.status(),
        StatusCode::BAD_GATEWAY
    );
    assert_eq!(breaker.state(), State::Open);
    let refused = fetch(addr, "/charge").await;
    assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(refused.headers()["retry-after"], "30");
    assert_eq!(upstream.calls.load(SeqCst), 5);
}
