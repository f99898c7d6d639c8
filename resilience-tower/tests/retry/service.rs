//! `RetryLayer` and `HttpRetryLayer` around in-process services, under paused time.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use resilience_core::retry::{Backoff, Jitter, RetryPolicy};
use resilience_core::{Error, ErrorKind};
use resilience_tower::body::PrefixedBody;
use resilience_tower::retry::{HttpRetryLayer, RetryLayer};
use tokio::time::Instant;
use tower::{Layer, Service, ServiceExt};

const MS: Duration = Duration::from_millis(1);

fn policy(max_attempts: u32) -> RetryPolicy {
    RetryPolicy::builder()
        .max_attempts(max_attempts)
        .backoff(Backoff::constant(10 * MS))
        .jitter(Jitter::None)
        .no_budget()
        .build()
        .unwrap()
}

/// Fails `failures` times, counting `poll_ready` and `call`.
#[derive(Clone)]
struct Flaky {
    failures: u32,
    ready: Arc<AtomicU32>,
    calls: Arc<AtomicU32>,
}

impl Service<u32> for Flaky {
    type Response = u32;
    type Error = Error;
    type Future = std::future::Ready<Result<u32, Error>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.ready.fetch_add(1, Ordering::SeqCst);
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: u32) -> Self::Future {
        let n = self.calls.fetch_add(1, Ordering::SeqCst);
        std::future::ready(if n < self.failures {
            Err(Error::new(ErrorKind::Timeout))
        } else {
            Ok(req * 2)
        })
    }
}

#[tokio::test(start_paused = true)]
async fn readiness_is_polled_before_every_attempt_and_requests_are_replayed() {
    let flaky = Flaky {
        failures: 2,
        ready: Arc::default(),
        calls: Arc::default(),
    };
    let svc = RetryLayer::new(policy(3)).layer(flaky.clone());
    assert_eq!(svc.oneshot(21).await.unwrap(), 42);
    assert_eq!(flaky.calls.load(Ordering::SeqCst), 3);
    assert_eq!(
        flaky.ready.load(Ordering::SeqCst),
        3,
        "one poll_ready per attempt"
    );
}

#[tokio::test(start_paused = true)]
async fn the_last_error_carries_attempts_and_why_it_stopped() {
    let flaky = Flaky {
        failures: 10,
        ready: Arc::default(),
        calls: Arc::default(),
    };
    let err = RetryLayer::new(policy(4))
        .layer(flaky)
        .oneshot(1)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout);
    assert_eq!(err.attempts(), Some(4));
    assert_eq!(
        err.field("retry_stop").map(ToString::to_string).as_deref(),
        Some("max_attempts")
    );
}

#[tokio::test(start_paused = true)]
async fn an_ok_503_with_retry_after_is_retried_after_the_hint() {
    let calls = Arc::new(AtomicU32::new(0));
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let (c, s) = (Arc::clone(&calls), Arc::clone(&seen));
    let inner = tower::service_fn(move |_req: Request<PrefixedBody<Full<Bytes>>>| {
        s.lock().unwrap().push(Instant::now());
        let n = c.fetch_add(1, Ordering::SeqCst);
        async move {
            let mut response = Response::builder();
            if n == 0 {
                response = response
                    .status(StatusCode::SERVICE_UNAVAILABLE)
                    .header("retry-after", "2");
            }
            Ok::<_, Error>(response.body(()).unwrap())
        }
    });
    let svc = HttpRetryLayer::new(policy(3)).layer(inner);
    let response = svc
        .oneshot(Request::get("/").body(Full::new(Bytes::new())).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let seen = seen.lock().unwrap();
    assert_eq!(
        seen[1] - seen[0],
        Duration::from_secs(2),
        "not the 10 ms backoff"
    );
}

#[tokio::test(start_paused = true)]
async fn a_final_503_is_returned_as_the_response() {
    let inner = tower::service_fn(|_req: Request<PrefixedBody<Full<Bytes>>>| async {
        Ok::<_, Error>(
            Response::builder()
                .status(StatusCode::BAD_GATEWAY)
                .body(())
                .unwrap(),
        )
    });
    let response = HttpRetryLayer::new(policy(2))
        .layer(inner)
        .oneshot(Request::get("/").body(Full::new(Bytes::new())).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
}

/// Fails its first call, then never becomes ready again.
#[derive(Clone)]
struct Stuck {
    calls: Arc<AtomicU32>,
}

impl Service<u32> for Stuck {
    type Response = u32;
    type Error = Error;
    type Future = std::future::Ready<Result<u32, Error>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Error>> {
        if self.calls.load(Ordering::SeqCst) == 0 {
            Poll::Ready(Ok(()))
        } else {
            Poll::Pending
        }
    }

    fn call(&mut self, _: u32) -> Self::Future {
        self.calls.fetch_add(1, Ordering::SeqCst);
        std::future::ready(Err(Error::new(ErrorKind::Timeout)))
    }
}

#[tokio::test(start_paused = true)]
async fn waiting_for_readiness_before_a_retry_stops_at_the_deadline() {
    let stuck = Stuck {
        calls: Arc::default(),
    };
    let svc = RetryLayer::new(policy(3)).layer(stuck.clone());
    let start = Instant::now();
    let deadline = resilience_core::Deadline::after(Duration::from_secs(1));
    let call = resilience_core::deadline::scope(deadline, svc.oneshot(1));
    let err = tokio::time::timeout(Duration::from_secs(60), call)
        .await
        .expect("the retry must not wait for readiness past the deadline")
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::DeadlineExceeded);
    assert_eq!(start.elapsed(), Duration::from_secs(1));
    assert_eq!(stuck.calls.load(Ordering::SeqCst), 1);
}

/// A request body whose read fails.
struct Broken;

impl http_body::Body for Broken {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, std::io::Error>>> {
        Poll::Ready(Some(Err(std::io::ErrorKind::ConnectionReset.into())))
    }
}

#[tokio::test(start_paused = true)]
async fn an_unreadable_request_body_is_an_error_naming_the_retry_instance() {
    let calls = Arc::new(AtomicU32::new(0));
    let counter = Arc::clone(&calls);
    let inner = tower::service_fn(move |_req: Request<PrefixedBody<Broken>>| {
        counter.fetch_add(1, Ordering::SeqCst);
        async { Ok::<_, Error>(Response::new(())) }
    });
    let policy = RetryPolicy::builder().name("uploads").build().unwrap();
    let err = HttpRetryLayer::new(policy)
        .layer(inner)
        .oneshot(Request::put("/").body(Broken).unwrap())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidRequest);
    assert_eq!(err.primitive(), Some(resilience_core::Primitive::Retry));
    assert_eq!(err.instance(), Some("uploads"));
    assert_eq!(calls.load(Ordering::SeqCst), 0, "never sent");
}

/// Answers 503 to every call and counts the calls.
fn unavailable(
    calls: &Arc<AtomicU32>,
) -> impl Service<
    Request<PrefixedBody<Full<Bytes>>>,
    Response = Response<()>,
    Error = Error,
    Future = impl Future<Output = Result<Response<()>, Error>>,
> + Clone {
    let calls = Arc::clone(calls);
    tower::service_fn(move |_req: Request<PrefixedBody<Full<Bytes>>>| {
        calls.fetch_add(1, Ordering::SeqCst);
        async {
            Ok::<_, Error>(
                Response::builder()
                    .status(StatusCode::SERVICE_UNAVAILABLE)
                    .body(())
                    .unwrap(),
            )
        }
    })
}

fn post(content_type: &'static str) -> Request<Full<Bytes>> {
    Request::post("/charge")
        .header("content-type", content_type)
        .body(Full::new(Bytes::from_static(b"{}")))
        .unwrap()
}

#[tokio::test(start_paused = true)]
async fn a_post_is_sent_once_unless_opted_in_and_grpc_calls_can_be_opted_in() {
    // The default rule: a POST without an Idempotency-Key is not repeated.
    let calls = Arc::new(AtomicU32::new(0));
    let svc = HttpRetryLayer::new(policy(3)).layer(unavailable(&calls));
    let response = svc.oneshot(post("application/json")).await.unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(calls.load(Ordering::SeqCst), 1);

    // Opted in by method: every attempt is made, and sends the same body.
    let calls = Arc::new(AtomicU32::new(0));
    let svc = HttpRetryLayer::new(policy(3))
        .also_retry_if(|request| request.method == http::Method::POST)
        .layer(unavailable(&calls));
    svc.oneshot(post("application/json")).await.unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 3);

    // Opted in for gRPC (every call a POST): other POSTs still go once.
    let calls = Arc::new(AtomicU32::new(0));
    let layer = HttpRetryLayer::new(policy(3))
        .also_retry_if(|request| resilience_tower::http::grpc::is_grpc(&request.headers));
    layer
        .layer(unavailable(&calls))
        .oneshot(post("application/grpc"))
        .await
        .unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    layer
        .layer(unavailable(&calls))
        .oneshot(post("application/json"))
        .await
        .unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 4);
}

#[tokio::test(start_paused = true)]
async fn a_layer_built_from_a_registry_policy_follows_its_reconfiguration() {
    let registry = resilience_core::Registry::new();
    let shared = registry
        .retry_policy("flaky", |b| {
            b.max_attempts(2)
                .backoff(Backoff::constant(10 * MS))
                .no_budget()
        })
        .unwrap();
    let flaky = Flaky {
        failures: 10,
        ready: Arc::default(),
        calls: Arc::default(),
    };
    let svc = RetryLayer::new(registry.get_retry_policy("flaky").unwrap()).layer(flaky.clone());
    assert_eq!(
        svc.clone().oneshot(1).await.unwrap_err().attempts(),
        Some(2)
    );
    shared
        .reconfigure(
            RetryPolicy::builder()
                .max_attempts(4)
                .backoff(Backoff::constant(10 * MS))
                .no_budget(),
        )
        .unwrap();
    assert_eq!(svc.oneshot(1).await.unwrap_err().attempts(), Some(4));
    assert_eq!(flaky.calls.load(Ordering::SeqCst), 6);
}

/// Records, at each `call`, whether an ambient deadline was set.
#[derive(Clone, Default)]
struct SeesDeadline {
    calls: Arc<AtomicU32>,
    under_deadline: Arc<AtomicU32>,
}

impl Service<u32> for SeesDeadline {
    type Response = u32;
    type Error = Error;
    type Future = std::future::Ready<Result<u32, Error>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: u32) -> Self::Future {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if resilience_core::Deadline::current().is_some() {
            self.under_deadline.fetch_add(1, Ordering::SeqCst);
        }
        std::future::ready(Ok(req))
    }
}

#[tokio::test(start_paused = true)]
async fn the_first_attempt_is_made_in_call_as_towers_retry_makes_it() {
    let inner = SeesDeadline::default();
    let mut svc = RetryLayer::new(policy(3)).layer(inner.clone());
    let deadline = resilience_core::Deadline::after(Duration::from_secs(1));
    let pending = resilience_core::deadline::sync_scope(deadline, || {
        // `call` is synchronous: the inner service's `call` runs here, under the deadline.
        let svc = &mut svc;
        futures_ready(svc).call(2)
    });
    assert_eq!(inner.calls.load(Ordering::SeqCst), 1, "called in `call`");
    assert_eq!(inner.under_deadline.load(Ordering::SeqCst), 1);
    assert_eq!(pending.await.unwrap(), 2);
    assert_eq!(inner.calls.load(Ordering::SeqCst), 1);
}

/// The service, ready (`SeesDeadline` always is).
fn futures_ready<S: Service<u32>>(svc: &mut S) -> &mut S {
    let waker = std::task::Waker::noop();
    let mut cx = Context::from_waker(waker);
    assert!(svc.poll_ready(&mut cx).is_ready());
    svc
}

#[tokio::test(start_paused = true)]
async fn a_call_made_under_a_deadline_and_polled_in_another_task_keeps_to_it() {
    let flaky = Flaky {
        failures: u32::MAX,
        ready: Arc::default(),
        calls: Arc::default(),
    };
    let policy = RetryPolicy::builder()
        .max_attempts(10)
        .backoff(Backoff::constant(400 * MS))
        .jitter(Jitter::None)
        .no_budget()
        .build()
        .unwrap();
    let mut svc = RetryLayer::new(policy).layer(flaky.clone());
    let start = Instant::now();
    let deadline = resilience_core::Deadline::after(Duration::from_secs(1));
    // The spawned task is polled by the runtime, outside this task's scope.
    let spawned = resilience_core::deadline::scope(deadline, async {
        let call = svc.ready().await.unwrap().call(1);
        tokio::spawn(call).await
    })
    .await;
    let err = spawned.unwrap().unwrap_err();
    assert!(
        start.elapsed() <= Duration::from_secs(1),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(
        flaky.calls.load(Ordering::SeqCst),
        3,
        "at 0, 400 and 800 ms"
    );
    assert_eq!(
        err.field("retry_stop").map(ToString::to_string).as_deref(),
        Some("deadline")
    );
}
