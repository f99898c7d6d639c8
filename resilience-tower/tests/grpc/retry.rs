//! gRPC answers judged by `GrpcStatus` (headers and trailers), and gRPC calls retried
//! through the explicit opt-in.

use std::sync::atomic::Ordering;
use std::time::Duration;

use resilience_core::circuit_breaker::{CircuitBreaker, State};
use resilience_core::retry::{Backoff, RetryPolicy};
use resilience_tower::body::PrefixedBody;
use resilience_tower::circuit_breaker::CircuitBreakerLayer;
use resilience_tower::http::grpc::{self, GrpcStatus, ReadTrailersLayer};
use resilience_tower::retry::HttpRetryLayer;
use tonic::Code;
use tower::ServiceBuilder;

use crate::{Echo, SAY, TRAILERS, call, channel, serve};

fn policy() -> RetryPolicy {
    RetryPolicy::builder()
        .name("echo")
        .max_attempts(3)
        .backoff(Backoff::constant(Duration::from_millis(1)))
        .build()
        .unwrap()
}

/// The layer retrying gRPC calls: `GrpcStatus`, opted in.
fn opted_in() -> HttpRetryLayer<GrpcStatus> {
    HttpRetryLayer::new(policy())
        .classifier(GrpcStatus::new())
        .also_retry_if(|request| grpc::is_grpc(&request.headers))
}

/// Serves an `Echo` answering `UNAVAILABLE` to its first `unavailable_first` calls,
/// sends `message` through `layer` over a tonic channel (the replayable body goes back
/// into tonic's), and returns the answer and how many calls the server saw.
async fn retried(
    layer: HttpRetryLayer<GrpcStatus>,
    unavailable_first: u32,
    message: &'static str,
) -> (Result<String, tonic::Status>, u32) {
    let echo = Echo {
        unavailable_first,
        ..Echo::default()
    };
    let calls = echo.calls.clone();
    let addr = serve!(tower::layer::util::Identity::new(), echo);
    let client = ServiceBuilder::new()
        .layer(layer)
        .map_request(|request: http::Request<PrefixedBody<tonic::body::Body>>| {
            request.map(tonic::body::Body::new)
        })
        .service(channel(addr).await);
    let answer = call(client, SAY, message, None).await;
    (answer, calls.load(Ordering::SeqCst))
}

#[tokio::test]
async fn opted_in_grpc_calls_are_retried_on_unavailable_until_they_succeed() {
    let (answer, calls) = retried(opted_in(), 2, "flaky").await;
    assert_eq!(answer.unwrap(), "ok");
    assert_eq!(calls, 3, "two UNAVAILABLE, then OK");
}

#[tokio::test]
async fn without_the_opt_in_a_grpc_call_a_post_is_sent_once() {
    let layer = HttpRetryLayer::new(policy()).classifier(GrpcStatus::new());
    let (answer, calls) = retried(layer, 2, "flaky").await;
    assert_eq!(answer.unwrap_err().code(), Code::Unavailable);
    assert_eq!(calls, 1);
}

#[tokio::test]
async fn codes_outside_the_retryable_set_are_not_retried() {
    let (answer, calls) = retried(opted_in(), 0, "invalid").await;
    assert_eq!(answer.unwrap_err().code(), Code::InvalidArgument);
    assert_eq!(calls, 1);
}

#[tokio::test]
async fn the_retry_waits_for_the_servers_pushback() {
    // The server pushes back 20 ms per UNAVAILABLE; the policy's own backoff is 1 ms.
    let started = tokio::time::Instant::now();
    let (answer, calls) = retried(opted_in(), 1, "flaky").await;
    assert_eq!(answer.unwrap(), "ok");
    assert_eq!(calls, 2);
    // A lower bound only: the retry did not come before the pushback.
    assert!(started.elapsed() >= Duration::from_millis(20));
}

#[tokio::test]
async fn a_breaker_reading_trailers_opens_on_unavailable_sent_after_a_message() {
    let breaker = || {
        CircuitBreaker::builder()
            .name("echo")
            .consecutive_failures(2)
            .open_duration(Duration::from_secs(60))
            .build()
            .unwrap()
    };
    let addr = serve!(tower::layer::util::Identity::new(), Echo::default());

    // With the trailers read, two answers of `grpc-status: 14` in trailers open it.
    let judged = breaker();
    let client = ServiceBuilder::new()
        .layer(CircuitBreakerLayer::new(judged.clone()).classifier(GrpcStatus::new()))
        .layer(ReadTrailersLayer::new())
        .service(channel(addr).await);
    for _ in 0..2 {
        let status = call(client.clone(), TRAILERS, "x", None).await.unwrap_err();
        assert_eq!(status.code(), Code::Unavailable, "{status:?}");
        assert_eq!(status.message(), "lost the backend");
    }
    assert_eq!(judged.state(), State::Open);
    let refused = call(client, TRAILERS, "x", None).await.unwrap_err();
    assert!(refused.message().contains("circuit"), "{refused:?}");

    // Judging the head alone, the same answers look like successes (HTTP 200, no
    // grpc-status in the headers): what the trailers layer is for.
    let blind = breaker();
    let client = ServiceBuilder::new()
        .layer(CircuitBreakerLayer::new(blind.clone()).classifier(GrpcStatus::new()))
        .service(channel(addr).await);
    for _ in 0..2 {
        call(client.clone(), TRAILERS, "x", None).await.unwrap_err();
    }
    assert_eq!(blind.state(), State::Closed);
}
