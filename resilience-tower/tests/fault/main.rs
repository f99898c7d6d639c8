//! `FaultLayer` as a tower service: off by default, HTTP error answers by rate with a
//! seed, delays that reach the inner service late, aborts as `FaultInjected`, and hangs
//! that the deadline layer above ends.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use http::{Request, Response, StatusCode};
use resilience_core::ErrorKind;
use resilience_tower::deadline::DeadlineLayer;
use resilience_tower::fault::{Fault, FaultLayer};
use resilience_tower::http::HttpErrorLayer;
use tokio::time::Instant;
use tower::{Layer, ServiceBuilder, ServiceExt, service_fn};

type Reply = Result<Response<String>, std::io::Error>;

/// An inner service counting its calls, answering 200 at once.
fn counted(
    calls: &Arc<AtomicUsize>,
) -> impl tower::Service<
    Request<()>,
    Response = Response<String>,
    Error = std::io::Error,
    Future = impl Future<Output = Reply> + Send,
> + Clone {
    let calls = Arc::clone(calls);
    service_fn(move |_: Request<()>| {
        calls.fetch_add(1, Ordering::SeqCst);
        async { Ok::<_, std::io::Error>(Response::new("ok".to_owned())) }
    })
}

fn get() -> Request<()> {
    Request::get("/").body(()).unwrap()
}

#[tokio::test(start_paused = true)]
async fn off_by_default_every_request_reaches_the_service_untouched() {
    let calls = Arc::new(AtomicUsize::new(0));
    let fault = Fault::builder().hang_rate(1.0).build().unwrap();
    let svc = FaultLayer::new(fault).layer(counted(&calls));
    for _ in 0..50 {
        let response = svc.clone().oneshot(get()).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }
    assert_eq!(calls.load(Ordering::SeqCst), 50);
}

#[tokio::test(start_paused = true)]
async fn error_answers_come_at_their_rate_with_a_seed_and_skip_the_service() {
    let run = |seed| async move {
        let calls = Arc::new(AtomicUsize::new(0));
        let fault = Fault::builder()
            .seed(seed)
            .enabled(true)
            .error_rate(0.3)
            .build()
            .unwrap();
        let svc = FaultLayer::new(fault)
            .status(StatusCode::TOO_MANY_REQUESTS)
            .retry_after(Duration::from_millis(1_500))
            .layer(counted(&calls));
        let mut answered = Vec::new();
        for _ in 0..2_000 {
            let response = svc.clone().oneshot(get()).await.unwrap();
            if response.status() == StatusCode::TOO_MANY_REQUESTS {
                assert_eq!(response.headers()["retry-after"], "2");
            }
            answered.push(response.status() == StatusCode::TOO_MANY_REQUESTS);
        }
        (answered, calls.load(Ordering::SeqCst))
    };
    let (answered, calls) = run(9).await;
    let injected = answered.iter().filter(|a| **a).count();
    assert!((540..660).contains(&injected), "{injected} of 2000");
    assert_eq!(
        calls,
        2_000 - injected,
        "an answered request never reaches the service"
    );
    assert_eq!(
        run(9).await.0,
        answered,
        "the same seed answers the same requests"
    );
}

#[tokio::test(start_paused = true)]
async fn a_delayed_request_reaches_the_service_after_its_delay() {
    let fault = Fault::builder()
        .enabled(true)
        .latency(1.0, Duration::from_millis(300), Duration::from_millis(300))
        .build()
        .unwrap();
    let start = Instant::now();
    let reached = Arc::new(std::sync::Mutex::new(None));
    let seen = Arc::clone(&reached);
    let svc = FaultLayer::new(fault).layer(service_fn(move |_: Request<()>| {
        *seen.lock().unwrap() = Some(start.elapsed());
        async { Ok::<_, std::io::Error>(Response::new(String::new())) }
    }));
    svc.oneshot(get()).await.unwrap();
    assert_eq!(*reached.lock().unwrap(), Some(Duration::from_millis(300)));
}

#[tokio::test(start_paused = true)]
async fn switched_on_at_run_time_aborts_fail_with_fault_injected() {
    let calls = Arc::new(AtomicUsize::new(0));
    let fault = Fault::builder().abort_rate(1.0).build().unwrap();
    let svc = FaultLayer::new(fault.clone()).layer(counted(&calls));
    svc.clone().oneshot(get()).await.unwrap();
    fault.enable();
    let err = svc.clone().oneshot(get()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::FaultInjected);
    assert!(!err.is_rejection());
    fault.disable();
    svc.oneshot(get()).await.unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[tokio::test(start_paused = true)]
async fn a_hung_request_is_answered_504_at_the_servers_deadline() {
    let calls = Arc::new(AtomicUsize::new(0));
    let fault = Fault::builder()
        .enabled(true)
        .hang_rate(1.0)
        .build()
        .unwrap();
    let svc = ServiceBuilder::new()
        .layer(HttpErrorLayer::new())
        .layer(
            DeadlineLayer::builder()
                .default_timeout(Duration::from_millis(800))
                .build()
                .unwrap(),
        )
        .layer(FaultLayer::new(fault))
        .service(counted(&calls));
    let start = Instant::now();
    let response = svc.oneshot(get()).await.unwrap();
    assert_eq!(response.status(), StatusCode::GATEWAY_TIMEOUT);
    assert_eq!(start.elapsed(), Duration::from_millis(800));
    assert_eq!(calls.load(Ordering::SeqCst), 0);
}
