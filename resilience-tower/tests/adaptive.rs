//! The adaptive bulkhead and adaptive throttle layers as tower services: what HTTP
//! answers mean to each, the queue path, and errors as HTTP responses.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicU16, AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use resilience_core::adaptive::{AdaptiveBulkhead, Aimd};
use resilience_core::circuit_breaker::CircuitBreaker;
use resilience_core::classify::TransientErrors;
use resilience_core::throttle::{AdaptiveThrottle, Rejections};
use resilience_core::{Error, ErrorKind};
use resilience_tower::adaptive::AdaptiveBulkheadLayer;
use resilience_tower::circuit_breaker::CircuitBreakerLayer;
use resilience_tower::http::HttpErrorLayer;
use resilience_tower::throttle::AdaptiveThrottleLayer;
use tower::{Layer, ServiceBuilder, ServiceExt, service_fn};

fn limiter(initial: usize) -> AdaptiveBulkhead {
    AdaptiveBulkhead::builder()
        .name("upstream")
        .algorithm(
            Aimd::builder()
                .initial_limit(initial)
                .min_limit(1)
                .max_limit(100)
                .timeout(Duration::from_millis(50))
                .build()
                .unwrap(),
        )
        .min_window(Duration::from_millis(10))
        .max_window(Duration::from_millis(10))
        .window_samples(1)
        .max_waiting(4)
        .max_wait(Duration::from_secs(1))
        .build()
        .unwrap()
}

/// An HTTP service answering `status` after 1 ms.
fn answering(
    status: Arc<AtomicU16>,
) -> impl tower::Service<Request<()>, Response = Response<Full<Bytes>>, Error = Infallible, Future: Send>
+ Clone {
    service_fn(move |_req: Request<()>| {
        let status = status.load(Ordering::SeqCst);
        async move {
            tokio::time::sleep(Duration::from_millis(1)).await;
            let mut response = Response::new(Full::new(Bytes::new()));
            *response.status_mut() = StatusCode::from_u16(status).unwrap();
            Ok(response)
        }
    })
}

#[tokio::test(start_paused = true)]
async fn http_5xx_answers_shrink_the_limit_4xx_answers_leave_it_and_2xx_grow_it() {
    let limiter = limiter(10);
    let status = Arc::new(AtomicU16::new(404));
    let svc = AdaptiveBulkheadLayer::new(limiter.clone()).layer(answering(Arc::clone(&status)));
    let run = |n: usize| {
        let svc = svc.clone();
        async move {
            for _ in 0..n {
                tokio::time::sleep(Duration::from_millis(10)).await;
                // 10 at once, so the limit is in use.
                let calls: Vec<_> = (0..10)
                    .map(|_| tokio::spawn(svc.clone().oneshot(Request::new(()))))
                    .collect();
                for call in calls {
                    call.await.unwrap().unwrap();
                }
            }
        }
    };
    run(20).await;
    assert_eq!(
        limiter.limit(),
        10,
        "a 404 is the caller's fault: not a sample"
    );
    status.store(200, Ordering::SeqCst);
    run(20).await;
    let grown = limiter.limit();
    assert!(grown > 10, "fast 200s in use grow it: {grown}");
    status.store(503, Ordering::SeqCst);
    run(5).await;
    assert!(
        limiter.limit() < grown,
        "503s are drops: {}",
        limiter.limit()
    );
}

#[tokio::test(start_paused = true)]
async fn queued_requests_reach_the_inner_service_once_a_permit_is_handed_over() {
    let limiter = limiter(1);
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&calls);
    let inner = service_fn(move |n: u32| {
        counted.fetch_add(1, Ordering::SeqCst);
        async move {
            tokio::time::sleep(Duration::from_millis(5)).await;
            Ok::<_, Infallible>(n)
        }
    });
    let svc = AdaptiveBulkheadLayer::new(limiter.clone())
        .classifier(TransientErrors)
        .layer(inner);
    let first = tokio::spawn(svc.clone().oneshot(1));
    tokio::task::yield_now().await;
    let second = tokio::spawn(svc.clone().oneshot(2));
    tokio::task::yield_now().await;
    assert_eq!((limiter.in_flight(), limiter.waiting()), (1, 1));
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "the queued request waits outside"
    );
    assert_eq!(first.await.unwrap().unwrap(), 1);
    assert_eq!(second.await.unwrap().unwrap(), 2);
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    assert_eq!(limiter.in_flight(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_full_adaptive_bulkhead_answers_503_with_retry_after() {
    let limiter = AdaptiveBulkhead::builder()
        .algorithm(
            Aimd::builder()
                .initial_limit(1)
                .min_limit(1)
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    let gate = Arc::new(tokio::sync::Semaphore::new(0));
    let held = Arc::clone(&gate);
    let svc = ServiceBuilder::new()
        .layer(HttpErrorLayer::new())
        .layer(AdaptiveBulkheadLayer::new(limiter))
        .service(service_fn(move |_req: Request<()>| {
            let held = Arc::clone(&held);
            async move {
                held.acquire().await.unwrap().forget();
                Ok::<_, Infallible>(Response::new(Full::new(Bytes::new())))
            }
        }));
    let busy = tokio::spawn(svc.clone().oneshot(Request::new(())));
    tokio::task::yield_now().await;
    let refused = svc.clone().oneshot(Request::new(())).await.unwrap();
    assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(refused.headers()["retry-after"], "1");
    gate.add_permits(1);
    assert_eq!(busy.await.unwrap().unwrap().status(), StatusCode::OK);
}

#[tokio::test(start_paused = true)]
async fn the_throttle_layer_counts_503_and_429_answers_as_rejections_and_answers_throttled_with_503()
 {
    let throttle = AdaptiveThrottle::builder()
        .name("upstream")
        .window(Duration::from_secs(10))
        .build()
        .unwrap();
    let status = Arc::new(AtomicU16::new(429));
    let inner = answering(Arc::clone(&status));
    let svc = ServiceBuilder::new()
        .layer(HttpErrorLayer::new())
        .layer(AdaptiveThrottleLayer::new(throttle.clone()))
        .service(inner);
    let mut throttled = 0;
    for _ in 0..200 {
        let response = svc.clone().oneshot(Request::new(())).await.unwrap();
        match response.status() {
            StatusCode::TOO_MANY_REQUESTS => {}
            StatusCode::SERVICE_UNAVAILABLE => throttled += 1,
            other => panic!("{other}"),
        }
    }
    assert!(throttled > 180, "{throttled}");
    assert!(throttle.rejection_probability() > 0.9);

    // 500s are answers the backend gave: accepted, so the probability falls again.
    status.store(500, Ordering::SeqCst);
    let other = AdaptiveThrottle::builder().build().unwrap();
    let svc = AdaptiveThrottleLayer::new(other.clone()).layer(answering(Arc::clone(&status)));
    for _ in 0..100 {
        let response = svc.clone().oneshot(Request::new(())).await.unwrap();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }
    assert_eq!(other.rejection_probability(), 0.0);
}

#[tokio::test(start_paused = true)]
async fn an_open_breaker_below_the_throttle_counts_as_rejected() {
    let throttle = AdaptiveThrottle::builder().build().unwrap();
    let breaker = CircuitBreaker::builder().name("below").build().unwrap();
    breaker.force_open();
    let svc = ServiceBuilder::new()
        .layer(AdaptiveThrottleLayer::new(throttle.clone()).judge(Rejections))
        .layer(CircuitBreakerLayer::new(breaker).classifier(TransientErrors))
        .service(service_fn(|n: u32| async move { Ok::<_, Infallible>(n) }));
    let mut kinds = Vec::new();
    for n in 0..50 {
        let err: Error = svc.clone().oneshot(n).await.unwrap_err();
        kinds.push(err.kind());
    }
    assert_eq!(kinds[0], ErrorKind::CircuitOpen);
    assert!(kinds.contains(&ErrorKind::Throttled), "{kinds:?}");
    let snapshot = throttle.snapshot();
    assert_eq!((snapshot.requests, snapshot.accepts), (50, 0));
}
