//! A real axum app with a failing upstream: the breaker opens, rejects fast with 503 +
//! `Retry-After`, half-opens after the open duration (paused time), and closes on recovery.
//! The layer is used as `CircuitBreakerLayer::new(breaker)`: its default classifier judges
//! axum's answers by status, since a handler never fails with `Err`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::time::Duration;

use axum::Router;
use axum::extract::Path;
use axum::routing::get;
use http::StatusCode;
use resilience_test_support::http::{get as fetch, problem_json, serve};
use resilience_tower::circuit_breaker::{CircuitBreaker, CircuitBreakerLayer, State};
use resilience_tower::deadline::DeadlineLayer;
use resilience_tower::http::HttpErrorLayer;
use tower::ServiceBuilder;

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
                .layer(CircuitBreakerLayer::new(breaker)),
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

/// Answers `/status/{code}` with that status, and `/slow` after a minute, behind a
/// deadline of one second; the breaker sits outside the deadline layer.
fn status_app(breaker: CircuitBreaker) -> Router {
    Router::new()
        .route(
            "/status/{code}",
            get(|Path(code): Path<u16>| async move {
                StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
            }),
        )
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(60)).await;
                "late"
            }),
        )
        .layer(
            ServiceBuilder::new()
                .layer(HttpErrorLayer::new())
                .layer(CircuitBreakerLayer::new(breaker))
                .layer(
                    DeadlineLayer::builder()
                        .default_timeout(Duration::from_secs(1))
                        .build()
                        .unwrap(),
                ),
        )
}

#[tokio::test(start_paused = true)]
async fn by_default_5xx_429_and_deadline_timeouts_open_the_breaker_and_4xx_do_not() {
    for (path, answer) in [
        ("/status/500", StatusCode::INTERNAL_SERVER_ERROR),
        ("/status/503", StatusCode::SERVICE_UNAVAILABLE),
        ("/status/429", StatusCode::TOO_MANY_REQUESTS),
        ("/slow", StatusCode::GATEWAY_TIMEOUT),
    ] {
        let breaker = breaker();
        let addr = serve(status_app(breaker.clone())).await;
        for _ in 0..4 {
            assert_eq!(fetch(addr, path).await.status(), answer, "{path}");
        }
        assert_eq!(breaker.state(), State::Open, "{path}");
        let refused = fetch(addr, path).await;
        assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE, "{path}");
        assert_eq!(problem_json(refused.body())["kind"], "circuit_open");
    }

    // The caller's mistakes are not the dependency's failures.
    let breaker = breaker();
    let addr = serve(status_app(breaker.clone())).await;
    for _ in 0..8 {
        assert_eq!(
            fetch(addr, "/status/404").await.status(),
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            fetch(addr, "/status/400").await.status(),
            StatusCode::BAD_REQUEST
        );
    }
    assert_eq!(breaker.state(), State::Closed);
    assert_eq!(
        breaker.snapshot().calls,
        0,
        "benign answers are not counted"
    );
}
