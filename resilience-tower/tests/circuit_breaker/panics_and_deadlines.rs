//! A real stack: the breaker sees calls that panic and calls its deadline cut off.

use std::convert::Infallible;
use std::future::pending;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use resilience_core::CircuitBreaker;
use resilience_core::circuit_breaker::State;
use resilience_core::classify::TransientErrors;
use resilience_tower::circuit_breaker::CircuitBreakerLayer;
use resilience_tower::deadline::DeadlineLayer;
use resilience_tower::http::{HttpErrorLayer, HttpStatus};
use tower::{Layer, ServiceBuilder, ServiceExt, service_fn};

/// Opens after 100 failures out of the last 100 calls (the default window).
fn breaker() -> CircuitBreaker {
    CircuitBreaker::builder()
        .name("upstream")
        .open_duration(Duration::from_secs(60))
        .build()
        .unwrap()
}

#[tokio::test(start_paused = true)]
async fn a_panicking_service_opens_the_breaker() {
    let breaker = breaker();
    let svc = ServiceBuilder::new()
        .layer(HttpErrorLayer::new())
        .layer(CircuitBreakerLayer::new(breaker.clone()).classifier(HttpStatus::new()))
        .service(service_fn(|_: Request<()>| async {
            if true {
                panic!("handler bug");
            }
            Ok::<_, Infallible>(Response::new(Full::new(Bytes::new())))
        }));
    let mut panicked = 0;
    for _ in 0..200 {
        // Each request in its own task, as a server runs it: the task catches the panic
        // and drops the response future afterwards.
        match tokio::spawn(svc.clone().oneshot(Request::new(()))).await {
            Err(join) if join.is_panic() => panicked += 1,
            Ok(Ok(refused)) => assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE),
            other => panic!("unexpected: {other:?}"),
        }
    }
    assert_eq!(panicked, 100, "the breaker opened after 100 panics");
    assert_eq!(breaker.state(), State::Open);
}

#[tokio::test(start_paused = true)]
async fn requests_cut_off_at_their_deadline_by_a_hung_dependency_open_the_breaker() {
    let breaker = breaker();
    let svc = ServiceBuilder::new()
        .layer(HttpErrorLayer::new())
        .layer(
            DeadlineLayer::builder()
                .default_timeout(Duration::from_millis(500))
                .build()
                .unwrap(),
        )
        .layer(CircuitBreakerLayer::new(breaker.clone()).classifier(HttpStatus::new()))
        .service(service_fn(|_: Request<()>| {
            pending::<Result<Response<Full<Bytes>>, Infallible>>()
        }));
    for _ in 0..100 {
        let response = svc.clone().oneshot(Request::new(())).await.unwrap();
        assert_eq!(response.status(), StatusCode::GATEWAY_TIMEOUT);
    }
    assert_eq!(breaker.state(), State::Open);
    let refused = svc.oneshot(Request::new(())).await.unwrap();
    assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
}

/// As a panic-catching layer outside the breaker does (tower-http's `CatchPanic`): the
/// panic is caught around `poll`, and the response future is dropped only afterwards.
#[tokio::test(start_paused = true)]
async fn a_panic_caught_around_the_response_future_counts_as_a_failure() {
    use std::future::Future;
    use std::task::{Context, Waker};
    use tower::Service;

    let breaker = CircuitBreaker::builder().count_window(1).build().unwrap();
    let layer = CircuitBreakerLayer::new(breaker.clone()).classifier(TransientErrors);
    let mut svc = layer.layer(service_fn(|_: ()| async {
        if true {
            panic!("handler bug");
        }
        Ok::<(), Infallible>(())
    }));
    let mut future = Box::pin(svc.ready().await.unwrap().call(()));
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        future
            .as_mut()
            .poll(&mut Context::from_waker(Waker::noop()))
    }));
    assert!(caught.is_err());
    drop(future);
    assert_eq!(breaker.state(), State::Open);
}
