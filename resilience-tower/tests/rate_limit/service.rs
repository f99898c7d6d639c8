//! The layer as a tower service, under paused time.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use resilience_core::ErrorKind;
use resilience_core::deadline::{self, Deadline};
use resilience_core::rate_limit::{KeyedRateLimiter, RateLimiter};
use resilience_tower::http::HttpErrorLayer;
use resilience_tower::rate_limit::{Header, KeyFn, RATELIMIT, RATELIMIT_POLICY, RateLimitLayer};
use tower::{Layer, Service, ServiceBuilder, ServiceExt, service_fn};

use resilience_test_support::http::problem_json;

type Body = Full<Bytes>;

/// A handler counting its calls, answering 200 with one header of its own.
fn answering_with(
    header: (http::HeaderName, &'static str),
) -> (
    Arc<AtomicUsize>,
    impl Service<Request<()>, Response = Response<Body>, Error = Infallible, Future: Send>
    + Clone
    + Send,
) {
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&calls);
    let svc = service_fn(move |_req: Request<()>| {
        seen.fetch_add(1, Ordering::SeqCst);
        let header = header.clone();
        async move {
            Ok::<_, Infallible>(
                Response::builder()
                    .header(header.0, header.1)
                    .body(Full::new(Bytes::from_static(b"ok")))
                    .unwrap(),
            )
        }
    });
    (calls, svc)
}

/// A handler of our own service.
fn counted() -> (
    Arc<AtomicUsize>,
    impl Service<Request<()>, Response = Response<Body>, Error = Infallible, Future: Send>
    + Clone
    + Send,
) {
    answering_with((http::HeaderName::from_static("x-handler"), "yes"))
}

fn two_per_second() -> RateLimiter {
    RateLimiter::builder()
        .name("api")
        .rate(1.0)
        .burst(2)
        .build()
        .unwrap()
}

fn with_header(name: &'static str, value: &str) -> Request<()> {
    let mut request = Request::new(());
    request
        .headers_mut()
        .insert(name, HeaderValue::from_str(value).unwrap());
    request
}

#[tokio::test(start_paused = true)]
async fn admitted_responses_carry_the_policy_and_what_is_left() {
    let (calls, inner) = counted();
    let svc = RateLimitLayer::new(two_per_second()).layer(inner);
    let first = svc.clone().oneshot(Request::new(())).await.unwrap();
    assert_eq!(first.headers()[RATELIMIT_POLICY], r#""api";q=2;w=2"#);
    assert_eq!(first.headers()[RATELIMIT], r#""api";r=1;t=1"#);
    assert_eq!(first.headers()["x-handler"], "yes");
    let second = svc.oneshot(Request::new(())).await.unwrap();
    assert_eq!(second.headers()[RATELIMIT], r#""api";r=0;t=2"#);
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[tokio::test(start_paused = true)]
async fn the_policy_header_follows_a_reconfigured_limiter() {
    let (_, inner) = counted();
    let limiter = two_per_second();
    let svc = RateLimitLayer::new(limiter.clone()).layer(inner);
    let before = svc.clone().oneshot(Request::new(())).await.unwrap();
    assert_eq!(before.headers()[RATELIMIT_POLICY], r#""api";q=2;w=2"#);
    limiter
        .reconfigure(RateLimiter::builder().rate(10.0).burst(50))
        .unwrap();
    let after = svc.clone().oneshot(Request::new(())).await.unwrap();
    assert_eq!(after.headers()[RATELIMIT_POLICY], r#""api";q=50;w=5"#);
    let again = svc.oneshot(Request::new(())).await.unwrap();
    assert_eq!(again.headers()[RATELIMIT_POLICY], r#""api";q=50;w=5"#);
}

#[tokio::test(start_paused = true)]
async fn a_refused_request_never_reaches_the_handler_and_is_a_429_problem() {
    let (calls, inner) = counted();
    let svc = ServiceBuilder::new()
        .layer(HttpErrorLayer::new())
        .layer(RateLimitLayer::new(two_per_second()))
        .service(inner);
    for _ in 0..2 {
        svc.clone().oneshot(Request::new(())).await.unwrap();
    }
    tokio::time::advance(Duration::from_millis(250)).await;
    let refused = svc.clone().oneshot(Request::new(())).await.unwrap();
    assert_eq!(
        calls.load(Ordering::SeqCst),
        2,
        "the handler was not called"
    );
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    let headers = refused.headers();
    assert_eq!(headers["retry-after"], "1");
    assert_eq!(headers[RATELIMIT_POLICY], r#""api";q=2;w=2"#);
    assert_eq!(headers[RATELIMIT], r#""api";r=0;t=2"#);
    assert_eq!(headers["content-type"], "application/problem+json");
    let body = refused.into_body().collect().await.unwrap().to_bytes();
    let problem = problem_json(&body);
    assert_eq!(problem["status"], 429);
    assert_eq!(problem["kind"], "rate_limited");
    assert_eq!(problem["retry_after"], 1);

    tokio::time::advance(Duration::from_millis(750)).await;
    let again = svc.oneshot(Request::new(())).await.unwrap();
    assert_eq!(again.status(), StatusCode::OK);
}

#[tokio::test(start_paused = true)]
async fn grpc_requests_are_refused_with_resource_exhausted() {
    let (_, inner) = counted();
    let svc = ServiceBuilder::new()
        .layer(HttpErrorLayer::new())
        .layer(RateLimitLayer::new(two_per_second()))
        .service(inner);
    for _ in 0..2 {
        svc.clone().oneshot(Request::new(())).await.unwrap();
    }
    let refused = svc
        .oneshot(with_header("content-type", "application/grpc"))
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::OK);
    assert_eq!(refused.headers()["grpc-status"], "8");
    assert_eq!(refused.headers()["grpc-retry-pushback-ms"], "1000");
}

#[tokio::test(start_paused = true)]
async fn a_header_key_limits_each_client_and_requests_without_it_share_one_limit() {
    let per_key = KeyedRateLimiter::<Vec<u8>>::builder()
        .name("per-key")
        .rate(1.0)
        .burst(1)
        .build()
        .unwrap();
    let (calls, inner) = counted();
    let svc = RateLimitLayer::new(per_key.clone())
        .key(Header::new(http::HeaderName::from_static("x-api-key")))
        .layer(inner);
    let status = |svc: &_, req| {
        let svc: tower::util::BoxCloneService<Request<()>, _, _> = Clone::clone(svc);
        async move { svc.oneshot(req).await.map(|r: Response<Body>| r.status()) }
    };
    let svc = tower::util::BoxCloneService::new(svc);
    assert!(
        status(&svc, with_header("x-api-key", "alice"))
            .await
            .is_ok()
    );
    let err = status(&svc, with_header("x-api-key", "alice"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::RateLimited);
    assert!(status(&svc, with_header("x-api-key", "bob")).await.is_ok());
    // No header: one shared limit, not a way around it.
    assert!(status(&svc, Request::new(())).await.is_ok());
    assert!(status(&svc, Request::new(())).await.is_err());
    // Long values are limited by digest: same value, same limit; another, another.
    let long_a = "a".repeat(500);
    let long_b = format!("{}b", "a".repeat(499));
    assert!(
        status(&svc, with_header("x-api-key", &long_a))
            .await
            .is_ok()
    );
    assert!(
        status(&svc, with_header("x-api-key", &long_a))
            .await
            .is_err()
    );
    assert!(
        status(&svc, with_header("x-api-key", &long_b))
            .await
            .is_ok()
    );
    assert_eq!(calls.load(Ordering::SeqCst), 5);
    assert_eq!(per_key.len(), 5);
}

#[tokio::test(start_paused = true)]
async fn a_key_closure_returning_none_exempts_the_request() {
    let per_route = KeyedRateLimiter::<String>::builder()
        .rate(1.0)
        .burst(1)
        .build()
        .unwrap();
    let (calls, inner) = counted();
    let svc = RateLimitLayer::new(per_route)
        .key(KeyFn::new(|req: &Request<()>| {
            (req.uri().path() != "/health").then(|| req.uri().path().to_owned())
        }))
        .layer(inner);
    let get = |path: &str| Request::get(path).body(()).unwrap();
    for _ in 0..5 {
        let response = svc.clone().oneshot(get("/health")).await.unwrap();
        assert!(
            response.headers().get(RATELIMIT).is_none(),
            "exempt: no headers"
        );
    }
    svc.clone().oneshot(get("/orders")).await.unwrap();
    assert!(svc.clone().oneshot(get("/orders")).await.is_err());
    assert_eq!(calls.load(Ordering::SeqCst), 6);
}

#[tokio::test(start_paused = true)]
async fn stacked_layers_each_add_their_policy_and_headers_can_be_turned_off() {
    let (_, inner) = counted();
    let everyone = RateLimiter::builder()
        .name("all")
        .rate(100.0)
        .build()
        .unwrap();
    let svc = ServiceBuilder::new()
        .layer(RateLimitLayer::new(everyone))
        .layer(RateLimitLayer::new(two_per_second()))
        .service(inner.clone());
    let response = svc.oneshot(Request::new(())).await.unwrap();
    let policies: Vec<_> = response
        .headers()
        .get_all(RATELIMIT_POLICY)
        .iter()
        .collect();
    assert_eq!(policies, [r#""api";q=2;w=2"#, r#""all";q=100;w=1"#]);
    assert_eq!(response.headers().get_all(RATELIMIT).iter().count(), 2);

    let quiet = RateLimitLayer::new(two_per_second())
        .without_headers()
        .layer(inner);
    let response = quiet.oneshot(Request::new(())).await.unwrap();
    assert!(response.headers().get(RATELIMIT).is_none());
    assert!(response.headers().get(RATELIMIT_POLICY).is_none());
}

/// A provider that answers with its own rate limit headers.
fn provider() -> (
    Arc<AtomicUsize>,
    impl Service<Request<()>, Response = Response<Body>, Error = Infallible, Future: Send>
    + Clone
    + Send,
) {
    answering_with((RATELIMIT, r#""provider";r=99;t=1"#))
}

fn provider_quota() -> RateLimiter {
    RateLimiter::builder()
        .name("provider")
        .rate(10.0)
        .burst(1)
        .max_wait(Duration::from_secs(1))
        .build()
        .unwrap()
}

#[tokio::test(start_paused = true)]
async fn the_client_layer_waits_for_its_turn_and_leaves_the_providers_answer_alone() {
    let (calls, inner) = provider();
    let svc = RateLimitLayer::client(provider_quota()).layer(inner);
    let start = tokio::time::Instant::now();
    svc.clone().oneshot(Request::new(())).await.unwrap();
    let second = svc.clone().ready_call().await;
    assert_eq!(
        start.elapsed(),
        Duration::from_millis(100),
        "waited its turn"
    );
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    let values: Vec<_> = second.headers().get_all(RATELIMIT).iter().collect();
    assert_eq!(
        values,
        [r#""provider";r=99;t=1"#],
        "the provider's own, alone"
    );
}

#[tokio::test(start_paused = true)]
async fn a_server_request_that_waited_its_turn_carries_the_headers_of_its_grant() {
    let (calls, inner) = counted();
    let svc = RateLimitLayer::new(provider_quota()).layer(inner);
    let first = svc.clone().oneshot(Request::new(())).await.unwrap();
    assert_eq!(first.headers()[RATELIMIT], r#""provider";r=0;t=1"#);
    let start = tokio::time::Instant::now();
    let second = svc.clone().ready_call().await;
    assert_eq!(
        start.elapsed(),
        Duration::from_millis(100),
        "waited its turn"
    );
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    assert_eq!(second.headers()[RATELIMIT_POLICY], r#""provider";q=1;w=1"#);
    assert_eq!(second.headers()[RATELIMIT], r#""provider";r=0;t=1"#);
    assert_eq!(second.headers()["x-handler"], "yes");
}

#[tokio::test(start_paused = true)]
async fn the_client_layer_fails_at_once_when_the_turn_is_past_the_deadline() {
    let (calls, inner) = provider();
    let svc = RateLimitLayer::client(provider_quota()).layer(inner);
    svc.clone().oneshot(Request::new(())).await.unwrap();
    let start = tokio::time::Instant::now();
    let err = deadline::scope(
        Deadline::after(Duration::from_millis(50)),
        svc.oneshot(Request::new(())),
    )
    .await
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::DeadlineExceeded);
    assert_eq!(start.elapsed(), Duration::ZERO);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

/// `oneshot`, written out to check that while one request waits for its turn, the same
/// service instance is ready for the next (the waiting one took the ready inner service).
trait ReadyCall {
    async fn ready_call(self) -> Response<Body>;
}

impl<S> ReadyCall for S
where
    S: Service<Request<()>, Response = Response<Body>, Error = resilience_core::Error>,
{
    async fn ready_call(mut self) -> Response<Body> {
        std::future::poll_fn(|cx| self.poll_ready(cx))
            .await
            .unwrap();
        let future = self.call(Request::new(()));
        // The service can serve the next request while this one waits.
        std::future::poll_fn(|cx| self.poll_ready(cx))
            .await
            .unwrap();
        future.await.unwrap()
    }
}

#[tokio::test(start_paused = true)]
async fn the_client_layer_fits_any_service_not_only_http() {
    let limiter = RateLimiter::builder()
        .name("jobs")
        .rate(1.0)
        .burst(1)
        .build()
        .unwrap();
    let svc = RateLimitLayer::client(limiter).layer(service_fn(|n: u64| async move {
        Ok::<_, Infallible>(n * 2)
    }));
    assert_eq!(svc.clone().oneshot(21).await.unwrap(), 42);
    let err = svc.oneshot(1).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::RateLimited);
}

#[cfg(feature = "redis")]
#[tokio::test]
async fn a_redis_limit_that_failed_open_writes_no_ratelimit_headers() {
    use resilience_core::rate_limit::RedisRateLimiter;

    // A port nothing listens on: every check fails, and the limiter lets calls through.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let limiter = RedisRateLimiter::builder(format!("redis://127.0.0.1:{port}/"))
        .name("api")
        .rate(1.0)
        .timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    let (calls, inner) = counted();
    let svc = RateLimitLayer::new(limiter).layer(inner);
    let response = svc.oneshot(Request::new(())).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert!(
        response.headers().get(RATELIMIT).is_none(),
        "nothing is known"
    );
    assert!(response.headers().get(RATELIMIT_POLICY).is_none());
}
