//! Every `ErrorKind` reaches a tonic client as its gRPC status, with the server's
//! pushback; real primitives (an open breaker, a full bulkhead) answer the same way.

use std::convert::Infallible;
use std::task::{Context, Poll};
use std::time::Duration;

use resilience_core::bulkhead::Bulkhead;
use resilience_core::circuit_breaker::CircuitBreaker;
use resilience_core::{BoxError, Error, ErrorKind};
use resilience_tower::bulkhead::BulkheadLayer;
use resilience_tower::circuit_breaker::CircuitBreakerLayer;
use resilience_tower::http::HttpErrorLayer;
use tonic::Code;
use tower::{Layer, Service, ServiceBuilder};

use crate::{BoxFuture, Echo, SAY, call, channel, serve};

/// Fails every call with the `ErrorKind` whose index is in `x-fail-kind`, with a 1.5 s
/// retry hint; passes other calls through.
#[derive(Clone, Debug)]
struct FailWith<S>(S);

impl<S, B> Service<http::Request<B>> for FailWith<S>
where
    S: Service<http::Request<B>, Error = Infallible>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = BoxFuture<Result<S::Response, BoxError>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.0.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let kind = request
            .headers()
            .get("x-fail-kind")
            .and_then(|v| v.to_str().ok()?.parse::<usize>().ok())
            .map(|i| ErrorKind::ALL[i]);
        match kind {
            Some(kind) => Box::pin(async move {
                Err(Error::new(kind)
                    .with_retry_after(Duration::from_millis(1500))
                    .into())
            }),
            None => {
                let answer = self.0.call(request);
                Box::pin(async move { Ok(answer.await?) })
            }
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct FailWithLayer;

impl<S> Layer<S> for FailWithLayer {
    type Service = FailWith<S>;

    fn layer(&self, inner: S) -> FailWith<S> {
        FailWith(inner)
    }
}

/// What a gRPC client must see for each kind: written out, not computed from the
/// library's table.
fn expected(kind: ErrorKind) -> Code {
    match kind {
        ErrorKind::CircuitOpen
        | ErrorKind::RetryBudgetExhausted
        | ErrorKind::StoreUnavailable
        | ErrorKind::ShuttingDown
        | ErrorKind::Throttled
        | ErrorKind::FaultInjected => Code::Unavailable,
        ErrorKind::BulkheadFull | ErrorKind::RateLimited | ErrorKind::PayloadTooLarge => {
            Code::ResourceExhausted
        }
        ErrorKind::DeadlineExceeded | ErrorKind::Timeout => Code::DeadlineExceeded,
        ErrorKind::IdempotencyConflict => Code::Aborted,
        ErrorKind::IdempotencyMismatch => Code::FailedPrecondition,
        ErrorKind::InvalidRequest => Code::InvalidArgument,
        ErrorKind::Inner => Code::Unknown,
        other => panic!("{other:?}: add the gRPC status this kind must map to"),
    }
}

#[tokio::test]
async fn every_error_kind_reaches_a_tonic_client_as_its_grpc_status_with_pushback() {
    let layers = ServiceBuilder::new()
        .layer(HttpErrorLayer::new())
        .layer(FailWithLayer);
    let addr = serve!(layers, Echo::default());
    let channel = channel(addr).await;

    for (index, &kind) in ErrorKind::ALL.iter().enumerate() {
        let client = ServiceBuilder::new()
            .map_request(move |mut request: http::Request<tonic::body::Body>| {
                request
                    .headers_mut()
                    .insert("x-fail-kind", index.to_string().parse().unwrap());
                request
            })
            .service(channel.clone());
        let status = call(client, SAY, "hello", None).await.unwrap_err();
        assert_eq!(status.code(), expected(kind), "{kind:?}: {status:?}");
        assert!(!status.message().is_empty(), "{kind:?}: a message");
        assert_eq!(
            status.metadata().get("grpc-retry-pushback-ms").unwrap(),
            "1500",
            "{kind:?}: the pushback"
        );
    }
    // And a call that does not fail is answered.
    assert_eq!(call(channel, SAY, "hello", None).await.unwrap(), "hello");
}

#[tokio::test]
async fn an_open_breaker_answers_tonic_clients_unavailable() {
    let breaker = CircuitBreaker::builder().name("echo").build().unwrap();
    breaker.force_open();
    let layers = ServiceBuilder::new()
        .layer(HttpErrorLayer::new())
        .layer(CircuitBreakerLayer::new(breaker));
    let addr = serve!(layers, Echo::default());
    let status = call(channel(addr).await, SAY, "hello", None)
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
}

#[tokio::test]
async fn a_full_bulkhead_answers_tonic_clients_resource_exhausted_with_pushback() {
    let bulkhead = Bulkhead::builder()
        .name("echo")
        .max_concurrent(1)
        .retry_after(Duration::from_millis(300))
        .build()
        .unwrap();
    let layers = ServiceBuilder::new()
        .layer(HttpErrorLayer::new())
        .layer(BulkheadLayer::new(bulkhead.clone()));
    let echo = Echo::default();
    let calls = echo.calls.clone();
    let addr = serve!(layers, echo);
    let channel = channel(addr).await;

    // One call holds the only permit...
    let holder = tokio::spawn(call(channel.clone(), SAY, "sleep", None));
    while calls.load(std::sync::atomic::Ordering::SeqCst) == 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // ...so the next is refused at once.
    let status = call(channel, SAY, "hello", None).await.unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    assert_eq!(
        status.metadata().get("grpc-retry-pushback-ms").unwrap(),
        "300"
    );
    holder.abort();
}
