//! The layer as a plain tower service.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use resilience_core::bulkhead::Bulkhead;
use resilience_core::{BoxError, Error, ErrorKind, Primitive};
use resilience_tower::bulkhead::BulkheadLayer;
use tokio::sync::Semaphore;
use tower::{Layer, Service, ServiceExt, service_fn};

/// An inner service that counts its calls and blocks each one until `gate` opens.
fn gated(
    calls: Arc<AtomicUsize>,
    gate: Arc<Semaphore>,
) -> impl Service<u32, Response = u32, Error = Infallible, Future: Send> + Clone {
    service_fn(move |request: u32| {
        calls.fetch_add(1, Ordering::SeqCst);
        let gate = Arc::clone(&gate);
        async move {
            gate.acquire().await.expect("gate open").forget();
            Ok(request)
        }
    })
}

fn bulkhead(max_concurrent: usize) -> Bulkhead {
    Bulkhead::builder()
        .name("inner")
        .max_concurrent(max_concurrent)
        .build()
        .unwrap()
}

#[tokio::test]
async fn the_permit_is_taken_in_call_not_in_poll_ready() {
    let calls = Arc::new(AtomicUsize::new(0));
    let gate = Arc::new(Semaphore::new(0));
    let limit = bulkhead(1);
    let mut a =
        BulkheadLayer::new(limit.clone()).layer(gated(Arc::clone(&calls), Arc::clone(&gate)));
    let mut b = a.clone();

    // Readiness holds nothing: both clones are ready at once.
    a.ready().await.unwrap();
    b.ready().await.unwrap();
    assert_eq!(limit.in_flight(), 0);

    let first = a.call(1);
    assert_eq!(
        limit.in_flight(),
        1,
        "taken in `call`, before the future is polled"
    );
    let err = b.call(2).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::BulkheadFull);
    assert_eq!(err.primitive(), Some(Primitive::Bulkhead));
    assert_eq!(err.instance(), Some("inner"));
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "a rejected request never reaches the inner service"
    );

    gate.add_permits(1);
    assert_eq!(first.await.unwrap(), 1);
    assert_eq!(
        limit.in_flight(),
        0,
        "released when the inner call completes"
    );
}

#[tokio::test]
async fn dropping_the_response_future_releases_the_permit() {
    let gate = Arc::new(Semaphore::new(0));
    let limit = bulkhead(1);
    let mut svc = BulkheadLayer::new(limit.clone()).layer(gated(Arc::default(), gate));
    svc.ready().await.unwrap();
    let future = svc.call(1);
    assert_eq!(limit.in_flight(), 1);
    drop(future);
    assert_eq!(limit.in_flight(), 0);
}

#[tokio::test(start_paused = true)]
async fn with_a_queue_a_waiting_request_calls_the_inner_service_once_admitted() {
    let calls = Arc::new(AtomicUsize::new(0));
    let gate = Arc::new(Semaphore::new(0));
    let limit = Bulkhead::builder()
        .max_concurrent(1)
        .max_waiting(1)
        .max_wait(Duration::from_secs(5))
        .build()
        .unwrap();
    let mut svc =
        BulkheadLayer::new(limit.clone()).layer(gated(Arc::clone(&calls), Arc::clone(&gate)));

    svc.ready().await.unwrap();
    let first = tokio::spawn(svc.call(1));
    svc.ready().await.unwrap();
    let second = tokio::spawn(svc.call(2));
    tokio::task::yield_now().await;
    assert_eq!(limit.waiting(), 1);
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "the waiting request is not called yet"
    );

    gate.add_permits(2);
    assert_eq!(first.await.unwrap().unwrap(), 1);
    assert_eq!(second.await.unwrap().unwrap(), 2);
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    assert_eq!((limit.in_flight(), limit.waiting()), (0, 0));
}

#[tokio::test(start_paused = true)]
async fn a_queued_request_past_max_wait_is_never_called() {
    let calls = Arc::new(AtomicUsize::new(0));
    let limit = Bulkhead::builder()
        .max_concurrent(1)
        .max_waiting(1)
        .max_wait(Duration::from_millis(200))
        .build()
        .unwrap();
    let mut svc = BulkheadLayer::new(limit.clone())
        .layer(gated(Arc::clone(&calls), Arc::new(Semaphore::new(0))));
    svc.ready().await.unwrap();
    let _first = svc.call(1);
    svc.ready().await.unwrap();
    let err = svc.call(2).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::BulkheadFull);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn inner_errors_are_wrapped_once_and_resilience_errors_pass_through() {
    let limit = bulkhead(4);
    let failing = service_fn(|fail_with_error: bool| async move {
        if fail_with_error {
            Err::<(), BoxError>(Error::new(ErrorKind::CircuitOpen).into())
        } else {
            Err::<(), BoxError>("upstream broke".into())
        }
    });
    let svc = BulkheadLayer::new(limit.clone()).layer(failing);
    let err = svc.clone().oneshot(true).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::CircuitOpen);
    let err = svc.oneshot(false).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Inner);
    assert_eq!(limit.in_flight(), 0);
}

#[tokio::test(start_paused = true)]
async fn behind_a_deadline_layer_a_queued_request_ends_at_the_deadline_as_a_rejection() {
    // DeadlineLayer → BulkheadLayer: the bulkhead takes its permit (or its place in the
    // queue) in `call`, so the deadline must already be ambient there for the wait to end
    // at it as the bulkhead's rejection — not as a deadline that passed "during" a call
    // that never happened.
    let calls = Arc::new(AtomicUsize::new(0));
    let limit = Bulkhead::builder()
        .name("inner")
        .max_concurrent(1)
        .max_waiting(1)
        .max_wait(Duration::from_secs(10))
        .build()
        .unwrap();
    let inner = gated(Arc::clone(&calls), Arc::new(Semaphore::new(0)));
    let inner = service_fn(move |request: http::Request<()>| {
        let mut inner = inner.clone();
        let n = *request.extensions().get::<u32>().unwrap_or(&0);
        async move { inner.call(n).await }
    });
    let mut svc = tower::ServiceBuilder::new()
        .layer(resilience_tower::deadline::DeadlineLayer::new())
        .layer(BulkheadLayer::new(limit.clone()))
        .service(inner);
    let _held = limit.try_acquire().unwrap();
    let request = http::Request::get("/")
        .header("connect-timeout-ms", "100")
        .body(())
        .unwrap();
    let start = tokio::time::Instant::now();
    svc.ready().await.unwrap();
    let err = svc.call(request).await.unwrap_err();
    assert_eq!(start.elapsed(), Duration::from_millis(100));
    assert_eq!(err.kind(), ErrorKind::DeadlineExceeded);
    assert_eq!(err.primitive(), Some(Primitive::Bulkhead), "{err}");
    assert!(err.is_rejection(), "the request was never called: {err}");
    assert_eq!(calls.load(Ordering::SeqCst), 0);
    assert_eq!(limit.waiting(), 0);
}
