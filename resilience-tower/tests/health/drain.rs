//! `DrainLayer` in an axum app, under paused time: in-flight requests finish, new ones are
//! refused, the health routes keep answering.

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use resilience_core::health::Health;
use resilience_tower::health::{DrainLayer, router};
use resilience_tower::http::HttpErrorLayer;
use tokio::time::Instant;
use tower::{ServiceBuilder, ServiceExt};

use resilience_test_support::http::problem_json;

fn app(health: &Health) -> Router {
    Router::new()
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(2)).await;
                "done"
            }),
        )
        .layer(
            ServiceBuilder::new()
                .layer(HttpErrorLayer::new())
                .layer(DrainLayer::new(health.clone())),
        )
        .merge(router(health.clone()))
}

fn get_(path: &str) -> Request<Body> {
    Request::get(path).body(Body::empty()).unwrap()
}

#[tokio::test(start_paused = true)]
async fn draining_refuses_new_requests_and_lets_in_flight_ones_finish() {
    let health = Health::builder()
        .shutdown_delay(Duration::ZERO)
        .drain_timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    health.startup().await.unwrap();
    let app = app(&health);

    let start = Instant::now();
    let in_flight: Vec<_> = (0..3)
        .map(|_| tokio::spawn(app.clone().oneshot(get_("/slow"))))
        .collect();
    tokio::time::sleep(Duration::from_millis(1)).await;
    assert_eq!(health.in_flight(), 3);

    health.shutdown_signal(std::future::ready(())).await;
    let refused = app.clone().oneshot(get_("/slow")).await.unwrap();
    assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body = refused.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(problem_json(&body)["kind"], "shutting_down");
    // The probes are outside the drain layer: still answered (readiness: 503 draining).
    let live = app.clone().oneshot(get_("/live")).await.unwrap();
    assert_eq!(live.status(), StatusCode::OK);

    health.drain(std::future::ready(())).await.unwrap();
    assert_eq!(start.elapsed(), Duration::from_secs(2));
    for request in in_flight {
        assert_eq!(request.await.unwrap().unwrap().status(), StatusCode::OK);
    }
}

#[tokio::test(start_paused = true)]
async fn requests_are_served_during_the_shutdown_delay() {
    let health = Health::builder()
        .shutdown_delay(Duration::from_secs(5))
        .build()
        .unwrap();
    health.startup().await.unwrap();
    let app = app(&health);
    let signal = tokio::spawn(health.shutdown_signal(std::future::ready(())));
    tokio::task::yield_now().await;

    let ready = app.clone().oneshot(get_("/ready")).await.unwrap();
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    let served = app.clone().oneshot(get_("/slow")).await.unwrap();
    assert_eq!(
        served.status(),
        StatusCode::OK,
        "load balancers may still route here"
    );

    signal.await.unwrap();
    let refused = app.oneshot(get_("/slow")).await.unwrap();
    assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
}
