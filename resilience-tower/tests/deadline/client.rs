use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use http::{HeaderMap, Request};
use resilience_core::deadline::{self, Deadline};
use resilience_core::{Error, ErrorKind};
use resilience_tower::deadline::{PropagateDeadlineLayer, PropagateDeadlineLayerBuilder};
use tower::{ServiceBuilder, ServiceExt, service_fn};

/// Sends `request` through the client layer; returns the headers the inner service saw
/// and how many times it was called.
async fn send(
    layer: PropagateDeadlineLayer,
    request: Request<()>,
) -> (Result<HeaderMap, Error>, usize) {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let svc = ServiceBuilder::new()
        .layer(layer)
        .service(service_fn(move |req: Request<()>| {
            counter.fetch_add(1, Ordering::SeqCst);
            async move { Ok::<_, Infallible>(req.headers().clone()) }
        }));
    let result = svc.oneshot(request).await;
    (result, calls.load(Ordering::SeqCst))
}

fn under<F: std::future::Future>(budget: Duration, f: F) -> deadline::Scope<F> {
    deadline::scope(Deadline::after(budget), f)
}

fn layer(
    f: impl FnOnce(PropagateDeadlineLayerBuilder) -> PropagateDeadlineLayerBuilder,
) -> PropagateDeadlineLayer {
    f(PropagateDeadlineLayer::builder()).build()
}

#[tokio::test(start_paused = true)]
async fn without_a_deadline_the_request_is_untouched() {
    let (headers, calls) = send(PropagateDeadlineLayer::new(), Request::new(())).await;
    assert!(headers.unwrap().is_empty());
    assert_eq!(calls, 1);
}

#[tokio::test(start_paused = true)]
async fn writes_the_remaining_milliseconds_minus_the_margin() {
    let l = layer(|b| b.margin(Duration::from_millis(50)));
    let (headers, _) = under(Duration::from_millis(1000), send(l, Request::new(()))).await;
    assert_eq!(headers.unwrap()["connect-timeout-ms"], "950");

    let l = layer(|b| b.header(http::HeaderName::from_static("x-timeout-ms")));
    let (headers, _) = under(Duration::from_millis(1000), send(l, Request::new(()))).await;
    let headers = headers.unwrap();
    assert_eq!(headers["x-timeout-ms"], "1000");
    assert!(!headers.contains_key("connect-timeout-ms"));
}

#[tokio::test(start_paused = true)]
async fn writes_grpc_timeout_for_grpc_requests() {
    let request = Request::post("/pkg.Svc/Call")
        .header("content-type", "application/grpc+proto")
        .body(())
        .unwrap();
    let (headers, _) = under(
        Duration::from_millis(1500),
        send(PropagateDeadlineLayer::new(), request),
    )
    .await;
    let headers = headers.unwrap();
    assert_eq!(headers["grpc-timeout"], "1500000u");
    assert!(!headers.contains_key("connect-timeout-ms"));
}

#[tokio::test(start_paused = true)]
async fn keeps_a_shorter_timeout_already_on_the_request() {
    let request = Request::builder()
        .header("connect-timeout-ms", "200")
        .body(())
        .unwrap();
    let (headers, _) = under(
        Duration::from_secs(5),
        send(PropagateDeadlineLayer::new(), request),
    )
    .await;
    assert_eq!(headers.unwrap()["connect-timeout-ms"], "200");

    let request = Request::builder()
        .header("connect-timeout-ms", "9000")
        .body(())
        .unwrap();
    let (headers, _) = under(
        Duration::from_secs(5),
        send(PropagateDeadlineLayer::new(), request),
    )
    .await;
    assert_eq!(headers.unwrap()["connect-timeout-ms"], "5000");
}

#[tokio::test(start_paused = true)]
async fn nothing_left_fails_fast_without_calling_the_inner_service() {
    // Expired.
    let d = Deadline::after(Duration::from_millis(10));
    tokio::time::sleep(Duration::from_millis(10)).await;
    let (result, calls) =
        deadline::scope(d, send(PropagateDeadlineLayer::new(), Request::new(()))).await;
    let err = result.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::DeadlineExceeded);
    assert!(err.is_rejection());
    assert_eq!(calls, 0);

    // Eaten by the margin.
    let l = layer(|b| b.margin(Duration::from_millis(100)));
    let (result, calls) = under(Duration::from_millis(100), send(l, Request::new(()))).await;
    assert!(result.unwrap_err().is_rejection());
    assert_eq!(calls, 0);

    // Under a millisecond cannot be written in milliseconds.
    let (result, calls) = under(
        Duration::from_micros(900),
        send(PropagateDeadlineLayer::new(), Request::new(())),
    )
    .await;
    assert_eq!(result.unwrap_err().kind(), ErrorKind::DeadlineExceeded);
    assert_eq!(calls, 0);
}
