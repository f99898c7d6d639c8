//! `ResilienceMiddleware` around a real reqwest client, against an axum server on
//! 127.0.0.1: retries (idempotent-only, opt-in, `Retry-After`, budget), a circuit breaker,
//! a bulkhead, a rate limiter and deadline propagation.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::any;
use reqwest_middleware::{ClientBuilder, ClientWithMiddleware};
use resilience_core::bulkhead::Bulkhead;
use resilience_core::rate_limit::RateLimiter;
use resilience_core::retry::{Backoff, RetryBudget, RetryPolicy};
use resilience_core::{CircuitBreaker, Deadline, Error, ErrorKind, deadline};
use resilience_test_support::http::serve;
use resilience_tower::deadline::PropagateDeadlineLayer;
use resilience_tower::reqwest::ResilienceMiddleware;

/// Counts calls; `/flaky/N` answers 503 for the first N calls, then 200; `/fail` always
/// 500; `/busy` 503 with `Retry-After: 1` once, then 200; `/slow` takes ten seconds;
/// `/deadline` echoes the `connect-timeout-ms` it received.
#[derive(Clone, Default)]
struct Upstream {
    calls: Arc<AtomicU32>,
}

async fn upstream(addr_calls: &Upstream) -> SocketAddr {
    let app = Router::new()
        .route("/flaky/{n}", any(flaky))
        .route("/fail", any(|| async { StatusCode::INTERNAL_SERVER_ERROR }))
        .route("/busy", any(busy))
        .route("/slow", any(slow))
        .route("/deadline", any(echo_deadline))
        .layer(axum::middleware::from_fn_with_state(
            addr_calls.clone(),
            count,
        ))
        .with_state(addr_calls.clone());
    serve(app).await
}

async fn count(
    State(upstream): State<Upstream>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    upstream.calls.fetch_add(1, Ordering::SeqCst);
    next.run(request).await
}

async fn flaky(
    State(upstream): State<Upstream>,
    axum::extract::Path(n): axum::extract::Path<u32>,
) -> StatusCode {
    if upstream.calls.load(Ordering::SeqCst) <= n {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    }
}

async fn busy(State(upstream): State<Upstream>) -> axum::response::Response {
    if upstream.calls.load(Ordering::SeqCst) == 1 {
        (StatusCode::SERVICE_UNAVAILABLE, [("retry-after", "1")]).into_response()
    } else {
        StatusCode::OK.into_response()
    }
}

async fn slow() -> &'static str {
    tokio::time::sleep(Duration::from_secs(10)).await;
    "late"
}

async fn echo_deadline(headers: HeaderMap) -> String {
    headers
        .get("connect-timeout-ms")
        .map_or("none".to_owned(), |v| v.to_str().unwrap().to_owned())
}

fn client(middleware: ResilienceMiddleware) -> ClientWithMiddleware {
    ClientBuilder::new(reqwest::Client::new())
        .with(middleware)
        .build()
}

fn policy() -> RetryPolicy {
    RetryPolicy::builder()
        .name("upstream")
        .max_attempts(3)
        .backoff(Backoff::constant(Duration::from_millis(1)))
        .build()
        .unwrap()
}

/// The `resilience_core::Error` a primitive refused with.
fn refusal(err: &reqwest_middleware::Error) -> &Error {
    match err {
        reqwest_middleware::Error::Middleware(err) => err
            .downcast_ref::<Error>()
            .unwrap_or_else(|| panic!("not a resilience error: {err:?}")),
        other => panic!("not a middleware error: {other:?}"),
    }
}

#[tokio::test]
async fn an_idempotent_get_is_retried_on_503_until_it_succeeds() {
    let up = Upstream::default();
    let addr = upstream(&up).await;
    let client = client(ResilienceMiddleware::new().retry(policy()));
    let response = client
        .get(format!("http://{addr}/flaky/2"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(up.calls.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn a_post_is_sent_once_unless_opted_in() {
    let up = Upstream::default();
    let addr = upstream(&up).await;
    let plain = client(ResilienceMiddleware::new().retry(policy()));
    let response = plain
        .post(format!("http://{addr}/flaky/100"))
        .body("order")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
    assert_eq!(up.calls.load(Ordering::SeqCst), 1);

    // With an Idempotency-Key, or through the opt-in, it is retried.
    let keyed = plain
        .post(format!("http://{addr}/flaky/100"))
        .header("idempotency-key", "order-1")
        .body("order")
        .send()
        .await
        .unwrap();
    assert_eq!(keyed.status(), 503);
    assert_eq!(up.calls.load(Ordering::SeqCst), 4);

    let opted = client(
        ResilienceMiddleware::new()
            .retry(policy())
            .also_retry_if(|request| request.url().path().starts_with("/flaky")),
    );
    let response = opted
        .post(format!("http://{addr}/flaky/100"))
        .body("order")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 503, "the last attempt's answer");
    assert_eq!(up.calls.load(Ordering::SeqCst), 7);
}

#[tokio::test]
async fn a_retry_waits_for_retry_after() {
    let up = Upstream::default();
    let addr = upstream(&up).await;
    let client = client(ResilienceMiddleware::new().retry(policy()));
    let started = tokio::time::Instant::now();
    let response = client
        .get(format!("http://{addr}/busy"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(up.calls.load(Ordering::SeqCst), 2);
    // A lower bound: the retry did not come before the server's Retry-After.
    assert!(started.elapsed() >= Duration::from_secs(1));
}

#[tokio::test]
async fn an_empty_retry_budget_stops_retries() {
    let up = Upstream::default();
    let addr = upstream(&up).await;
    let budget = RetryBudget::builder()
        .min_per_sec(0)
        .ratio(0.01)
        .build()
        .unwrap();
    let policy = RetryPolicy::builder()
        .name("upstream")
        .max_attempts(3)
        .backoff(Backoff::constant(Duration::from_millis(1)))
        .budget(budget)
        .build()
        .unwrap();
    let client = client(ResilienceMiddleware::new().retry(policy));
    let outcome = client.get(format!("http://{addr}/flaky/5")).send().await;
    assert_eq!(up.calls.load(Ordering::SeqCst), 1, "{outcome:?}");
}

#[tokio::test]
async fn a_breaker_opens_on_failures_and_then_refuses_without_calling() {
    let up = Upstream::default();
    let addr = upstream(&up).await;
    let breaker = CircuitBreaker::builder()
        .name("upstream")
        .consecutive_failures(2)
        .open_duration(Duration::from_secs(60))
        .build()
        .unwrap();
    let client = client(ResilienceMiddleware::new().circuit_breaker(breaker));
    for _ in 0..2 {
        let response = client
            .get(format!("http://{addr}/fail"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 500);
    }
    let err = client
        .get(format!("http://{addr}/fail"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(refusal(&err).kind(), ErrorKind::CircuitOpen);
    assert!(refusal(&err).retry_after().is_some());
    assert_eq!(up.calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_full_bulkhead_refuses_the_next_concurrent_call() {
    let up = Upstream::default();
    let addr = upstream(&up).await;
    let bulkhead = Bulkhead::builder()
        .name("upstream")
        .max_concurrent(1)
        .build()
        .unwrap();
    let client = client(ResilienceMiddleware::new().bulkhead(bulkhead));
    let holder = tokio::spawn({
        let client = client.clone();
        async move { client.get(format!("http://{addr}/slow")).send().await }
    });
    while up.calls.load(Ordering::SeqCst) == 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let err = client
        .get(format!("http://{addr}/flaky/0"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(refusal(&err).kind(), ErrorKind::BulkheadFull);
    assert_eq!(up.calls.load(Ordering::SeqCst), 1);
    holder.abort();
}

#[tokio::test]
async fn a_rate_limiter_refuses_past_its_burst() {
    let up = Upstream::default();
    let addr = upstream(&up).await;
    let limiter = RateLimiter::builder()
        .name("upstream")
        .rate(1.0)
        .burst(2)
        .build()
        .unwrap();
    let client = client(ResilienceMiddleware::new().rate_limiter(limiter));
    for _ in 0..2 {
        let response = client
            .get(format!("http://{addr}/flaky/0"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }
    let err = client
        .get(format!("http://{addr}/flaky/0"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(refusal(&err).kind(), ErrorKind::RateLimited);
    assert!(refusal(&err).retry_after().is_some());
    assert_eq!(up.calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn the_deadline_goes_out_as_a_header_and_ends_the_call_when_it_passes() {
    let up = Upstream::default();
    let addr = upstream(&up).await;
    let client =
        client(ResilienceMiddleware::new().propagate_deadline(PropagateDeadlineLayer::new()));

    let call = client.get(format!("http://{addr}/deadline")).send();
    let response = deadline::scope(Deadline::after(Duration::from_millis(1500)), call)
        .await
        .unwrap();
    let sent: u64 = response.text().await.unwrap().parse().unwrap();
    assert!(sent > 0 && sent <= 1500, "{sent}");

    // No deadline: no header.
    let response = client
        .get(format!("http://{addr}/deadline"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.text().await.unwrap(), "none");

    // A slow answer is cut off at the deadline.
    let call = client.get(format!("http://{addr}/slow")).send();
    let err = deadline::scope(Deadline::after(Duration::from_millis(100)), call)
        .await
        .unwrap_err();
    assert_eq!(refusal(&err).kind(), ErrorKind::DeadlineExceeded);
}

#[tokio::test]
async fn transport_errors_come_back_as_reqwest_errors_after_the_retries() {
    // A port nothing listens on: bind one, then close it.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let client = client(ResilienceMiddleware::new().retry(policy()));
    let err = client
        .get(format!("http://{closed}/"))
        .send()
        .await
        .unwrap_err();
    assert!(
        matches!(err, reqwest_middleware::Error::Reqwest(ref e) if e.is_connect()),
        "{err:?}"
    );
}
