//! `HealthService` and `router` as tower services, under paused time.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::body::Body;
use http::{Request, Response, StatusCode};
use http_body_util::BodyExt;
use resilience_core::health::{Check, Health};
use resilience_tower::health::{HEALTH_JSON, HealthService, router};
use serde_json::Value;
use tower::ServiceExt;

use crate::format::health_json;

/// A health with one `db` check whose answer `up` decides, re-run on every probe.
fn health_with_db(up: &Arc<AtomicBool>) -> Health {
    let up = Arc::clone(up);
    Health::builder()
        .interval(Duration::ZERO)
        .shutdown_delay(Duration::ZERO)
        .check(Check::new("db", move || {
            let up = up.load(Ordering::SeqCst);
            async move {
                if up {
                    Ok(())
                } else {
                    Err("FATAL: password authentication failed for user \"app\"")
                }
            }
        }))
        .build()
        .unwrap()
}

async fn answer<B>(service: HealthService, request: Request<B>) -> (Response<()>, Value) {
    let response = service.oneshot(request).await.unwrap();
    let (parts, body) = response.into_parts();
    let body = body.collect().await.unwrap().to_bytes();
    (Response::from_parts(parts, ()), health_json(&body))
}

#[tokio::test(start_paused = true)]
async fn readiness_answers_200_then_503_when_a_check_fails_in_the_draft_format() {
    let up = Arc::new(AtomicBool::new(true));
    let health = health_with_db(&up);
    health.startup().await.unwrap();
    let ready = HealthService::readiness(health);

    let (response, body) = answer(ready.clone(), Request::new(())).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], HEALTH_JSON);
    assert_eq!(response.headers()["cache-control"], "no-store");
    assert_eq!(body["status"], "pass");
    assert_eq!(body["checks"]["db"][0]["status"], "pass");
    assert_eq!(body["checks"]["lifecycle"][0]["observedValue"], "ready");

    up.store(false, Ordering::SeqCst);
    let (response, body) = answer(ready, Request::new(())).await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["status"], "fail");
    assert_eq!(body["checks"]["db"][0]["status"], "fail");
}

#[tokio::test(start_paused = true)]
async fn check_outputs_are_left_out_unless_exposed() {
    let up = Arc::new(AtomicBool::new(false));
    let health = health_with_db(&up);
    health.startup().await.unwrap();

    let (_, hidden) = answer(HealthService::readiness(health.clone()), Request::new(())).await;
    assert!(
        hidden["checks"]["db"][0].get("output").is_none(),
        "{hidden}"
    );
    assert!(!hidden.to_string().contains("password"), "{hidden}");

    let exposed = HealthService::readiness(health).expose_output(true);
    let (_, shown) = answer(exposed, Request::new(())).await;
    assert_eq!(
        shown["checks"]["db"][0]["output"],
        "FATAL: password authentication failed for user \"app\""
    );
}

#[tokio::test(start_paused = true)]
async fn liveness_answers_200_before_startup_and_while_draining() {
    let up = Arc::new(AtomicBool::new(false));
    let health = health_with_db(&up);
    let live = HealthService::liveness(health.clone());
    let (response, body) = answer(live.clone(), Request::new(())).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(body["checks"]["uptime"][0]["observedUnit"], "s");

    health.shutdown_signal(std::future::ready(())).await;
    let (response, _) = answer(live, Request::new(())).await;
    assert_eq!(response.status(), StatusCode::OK);
    let (response, body) = answer(HealthService::readiness(health), Request::new(())).await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["checks"]["lifecycle"][0]["observedValue"], "draining");
}

#[tokio::test(start_paused = true)]
async fn the_router_serves_live_and_ready() {
    let up = Arc::new(AtomicBool::new(true));
    let health = health_with_db(&up);
    let app: axum::Router = router(health.clone());
    let get = |path: &str| Request::get(path).body(Body::empty()).unwrap();

    let ready = app.clone().oneshot(get("/ready")).await.unwrap();
    assert_eq!(
        ready.status(),
        StatusCode::SERVICE_UNAVAILABLE,
        "not started"
    );
    health.startup().await.unwrap();
    let ready = app.clone().oneshot(get("/ready")).await.unwrap();
    assert_eq!(ready.status(), StatusCode::OK);
    let live = app.clone().oneshot(get("/live")).await.unwrap();
    assert_eq!(live.status(), StatusCode::OK);
    let other = app.oneshot(get("/health")).await.unwrap();
    assert_eq!(other.status(), StatusCode::NOT_FOUND);
}
