//! Over real HTTP on 127.0.0.1, in real time: a load balancer polling `/ready`, and a
//! graceful shutdown through `axum::serve(..).with_graceful_shutdown(..)`.
//!
//! Bounds are generous (seconds for polls every few milliseconds); no assertion measures
//! speed.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use http::StatusCode;
use resilience_core::health::{Check, Health};
use resilience_tower::health::{DrainLayer, HEALTH_JSON, router};
use resilience_tower::http::HttpErrorLayer;
use serde_json::Value;
use tokio::net::TcpListener;
use tower::ServiceBuilder;

use crate::format::health_json;
use resilience_test_support::http::{get as http_get, serve};

/// A load balancer's view: polls `/ready` every 10 ms until `threshold` consecutive
/// answers have `want` (as real balancers count healthy/unhealthy thresholds); returns
/// the last body. Panics after 10 s.
async fn poll_until(addr: SocketAddr, want: StatusCode, threshold: usize) -> Value {
    let polling = async {
        let mut streak = 0;
        loop {
            let response = http_get(addr, "/ready").await;
            assert_eq!(response.headers()["content-type"], HEALTH_JSON);
            let body = health_json(response.body());
            streak = if response.status() == want {
                streak + 1
            } else {
                0
            };
            if streak == threshold {
                return body;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(10), polling)
        .await
        .unwrap_or_else(|_| panic!("/ready never answered {want} {threshold} times in a row"))
}

#[tokio::test]
async fn a_polling_load_balancer_sees_503_while_a_dependency_is_down_and_200_after() {
    let up = Arc::new(AtomicBool::new(true));
    let dependency = Arc::clone(&up);
    let health = Health::builder()
        .check(
            Check::new("inventory", move || {
                let up = dependency.load(Ordering::SeqCst);
                async move {
                    if up {
                        Ok(())
                    } else {
                        Err("connection refused")
                    }
                }
            })
            .component_type("component"),
        )
        .interval(Duration::from_millis(20))
        .build()
        .unwrap();
    health.startup().await.unwrap();
    let addr = serve(router(health)).await;

    let body = poll_until(addr, StatusCode::OK, 2).await;
    assert_eq!(body["status"], "pass");

    up.store(false, Ordering::SeqCst);
    let body = poll_until(addr, StatusCode::SERVICE_UNAVAILABLE, 2).await;
    assert_eq!(body["status"], "fail");
    let inventory = &body["checks"]["inventory"][0];
    assert_eq!(inventory["status"], "fail");
    assert_eq!(inventory["componentType"], "component");
    assert!(inventory.get("output").is_none(), "no error text: {body}");

    up.store(true, Ordering::SeqCst);
    let body = poll_until(addr, StatusCode::OK, 2).await;
    assert_eq!(body["checks"]["inventory"][0]["status"], "pass");
}

#[tokio::test]
async fn graceful_shutdown_finishes_in_flight_requests_then_stops_serving() {
    let health = Health::builder()
        .shutdown_delay(Duration::ZERO)
        .drain_timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let release = Arc::new(tokio::sync::Notify::new());
    let gate = Arc::clone(&release);
    let app = Router::new()
        .route(
            "/slow",
            get(move || {
                let gate = Arc::clone(&gate);
                async move {
                    gate.notified().await;
                    "finished"
                }
            }),
        )
        .layer(
            ServiceBuilder::new()
                .layer(HttpErrorLayer::new())
                .layer(DrainLayer::new(health.clone())),
        )
        .merge(router(health.clone()));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = axum::serve(listener, app)
        .with_graceful_shutdown(health.shutdown_signal(std::future::pending::<()>()));
    let serving = tokio::spawn(health.drain(server));
    health.startup().await.unwrap();

    let slow = tokio::spawn(http_get(addr, "/slow"));
    tokio::time::timeout(Duration::from_secs(10), async {
        while health.in_flight() == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("the slow request arrives");

    // Shutdown from inside the program: readiness fails, draining begins, the server stops
    // accepting; the request in flight is still answered.
    health.shutdown();
    tokio::time::timeout(Duration::from_secs(10), async {
        while TcpListener::bind(addr).await.is_err() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("the listener closes");
    assert!(
        !serving.is_finished(),
        "the server waits for the request in flight"
    );
    release.notify_one();

    let answer = slow.await.unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    assert_eq!(answer.body().as_ref(), b"finished");
    let drained = tokio::time::timeout(Duration::from_secs(10), serving)
        .await
        .expect("drained within the drain timeout")
        .unwrap();
    drained.unwrap().unwrap();
    assert_eq!(health.in_flight(), 0);
}
