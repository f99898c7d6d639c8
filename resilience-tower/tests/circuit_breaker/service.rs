//! The layer as a plain tower service: classification, cancellation, readiness, clones.

use std::future::pending;
use std::time::Duration;

use resilience_core::circuit_breaker::State;
use resilience_core::classify::TransientErrors;
use resilience_core::{CircuitBreaker, Error, ErrorKind};
use resilience_tower::circuit_breaker::CircuitBreakerLayer;
use tower::{Layer, Service, ServiceExt, service_fn};

fn breaker(half_open_calls: u32) -> CircuitBreaker {
    CircuitBreaker::builder()
        .name("svc")
        .count_window(2)
        .open_duration(Duration::from_secs(5))
        .half_open_calls(half_open_calls)
        .build()
        .unwrap()
}

/// Opens on one failure for 5 s; its one probe then has 200 ms.
fn probing_breaker() -> CircuitBreaker {
    CircuitBreaker::builder()
        .name("svc")
        .count_window(1)
        .open_duration(Duration::from_secs(5))
        .half_open_calls(1)
        .probe_timeout(Duration::from_millis(200))
        .build()
        .unwrap()
}

#[tokio::test(start_paused = true)]
async fn errors_trip_and_rejections_name_the_breaker() {
    let breaker = breaker(1);
    let svc = CircuitBreakerLayer::new(breaker.clone())
        .classifier(TransientErrors)
        .layer(service_fn(|fail: bool| async move {
            if fail {
                Err(std::io::Error::other("down"))
            } else {
                Ok("ok")
            }
        }));
    let err = svc.clone().oneshot(true).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Inner);
    assert!(err.downcast_ref::<std::io::Error>().is_some());
    svc.clone().oneshot(true).await.unwrap_err();
    assert_eq!(breaker.state(), State::Open);

    let refused = svc.clone().oneshot(false).await.unwrap_err();
    assert_eq!(refused.kind(), ErrorKind::CircuitOpen);
    assert_eq!(refused.instance(), Some("svc"));
    assert_eq!(refused.retry_after(), Some(Duration::from_secs(5)));

    tokio::time::advance(Duration::from_secs(5)).await;
    assert_eq!(svc.oneshot(false).await.unwrap(), "ok");
    assert_eq!(breaker.state(), State::Closed);
}

#[tokio::test(start_paused = true)]
async fn a_dropped_response_future_frees_its_probe_slot_at_once() {
    let breaker = breaker(1);
    for _ in 0..2 {
        breaker.try_acquire().unwrap().record_failure();
    }
    tokio::time::advance(Duration::from_secs(5)).await;
    let mut hanging = CircuitBreakerLayer::new(breaker.clone())
        .classifier(TransientErrors)
        .layer(service_fn(|_: ()| pending::<Result<(), Error>>()));
    let future = hanging.ready().await.unwrap().call(());
    assert_eq!(breaker.state(), State::HalfOpen);
    assert!(breaker.try_acquire().is_err(), "the only probe is taken");
    drop(future);
    breaker.try_acquire().unwrap().record_success();
    assert_eq!(breaker.state(), State::Closed);
}

#[tokio::test(start_paused = true)]
async fn inner_rejections_are_passed_through_and_not_counted() {
    let breaker = breaker(1);
    let svc = CircuitBreakerLayer::new(breaker.clone())
        .classifier(TransientErrors)
        .layer(service_fn(|_: ()| async {
            Err::<(), _>(Error::new(ErrorKind::BulkheadFull).with_instance("pool"))
        }));
    for _ in 0..5 {
        let err = svc.clone().oneshot(()).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::BulkheadFull);
        assert_eq!(err.instance(), Some("pool"));
    }
    assert_eq!(breaker.state(), State::Closed);
    assert_eq!(breaker.snapshot().calls, 0);
}

#[tokio::test(start_paused = true)]
async fn clones_share_one_breaker() {
    let breaker = breaker(1);
    let layer = CircuitBreakerLayer::new(breaker.clone()).classifier(TransientErrors);
    let a = layer.layer(service_fn(|_: ()| async {
        Err::<(), _>(std::io::Error::other("x"))
    }));
    let b = a.clone();
    a.oneshot(()).await.unwrap_err();
    b.clone().oneshot(()).await.unwrap_err();
    assert_eq!(b.breaker().state(), State::Open);
    assert_eq!(
        b.oneshot(()).await.unwrap_err().kind(),
        ErrorKind::CircuitOpen
    );
}

#[tokio::test(start_paused = true)]
async fn a_hung_probe_fails_at_the_breakers_probe_timeout() {
    let breaker = probing_breaker();
    breaker.try_acquire().unwrap().record_failure();
    tokio::time::advance(Duration::from_secs(5)).await;
    let svc = CircuitBreakerLayer::new(breaker.clone())
        .classifier(TransientErrors)
        .layer(service_fn(|_: ()| pending::<Result<(), Error>>()));
    let start = tokio::time::Instant::now();
    let err = svc.oneshot(()).await.unwrap_err();
    assert_eq!(start.elapsed(), Duration::from_millis(200));
    assert_eq!(err.kind(), ErrorKind::Timeout);
    assert_eq!(err.instance(), Some("svc"));
    assert_eq!(breaker.state(), State::Open);
}

#[tokio::test(start_paused = true)]
async fn a_probe_calls_its_inner_service_under_the_probe_deadline_with_the_request() {
    use std::sync::{Arc, Mutex};
    use std::task::{Context, Poll};

    use resilience_core::Deadline;

    /// A request and the time left on the deadline ambient when it was called.
    type Seen = (String, Option<Duration>);

    /// Records, in `call` (not in its future), the request and the ambient deadline.
    #[derive(Clone, Default)]
    struct Recorder(Arc<Mutex<Vec<Seen>>>);

    impl Service<String> for Recorder {
        type Response = ();
        type Error = Error;
        type Future = std::future::Ready<Result<(), Error>>;

        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Error>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, request: String) -> Self::Future {
            let left = Deadline::current().map(Deadline::remaining);
            self.0.lock().unwrap().push((request, left));
            std::future::ready(Ok(()))
        }
    }

    let breaker = probing_breaker();
    let recorder = Recorder::default();
    let svc = CircuitBreakerLayer::new(breaker.clone())
        .classifier(TransientErrors)
        .layer(recorder.clone());
    svc.clone().oneshot("closed".repeat(100)).await.unwrap();
    breaker.try_acquire().unwrap().record_failure();
    tokio::time::advance(Duration::from_secs(5)).await;
    svc.oneshot("probe".to_owned()).await.unwrap();
    assert_eq!(breaker.state(), State::Closed);
    let seen = recorder.0.lock().unwrap().clone();
    assert_eq!(
        seen,
        [
            ("closed".repeat(100), None),
            ("probe".to_owned(), Some(Duration::from_millis(200))),
        ]
    );
}
