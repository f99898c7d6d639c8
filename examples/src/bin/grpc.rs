//! gRPC with tonic: a server and a client on 127.0.0.1, the resilience layers on both.
//!
//! Run: `cargo run -p resilience-examples --bin grpc`
//!
//! The `inventory` server answers gRPC errors for every primitive (`HttpErrorLayer`: an
//! open breaker is `UNAVAILABLE`, a full bulkhead `RESOURCE_EXHAUSTED`, a passed
//! deadline `DEADLINE_EXCEEDED`, with `grpc-retry-pushback-ms`), reads the caller's
//! `grpc-timeout` (`DeadlineLayer`) and sheds load past 4 calls at once (`BulkheadLayer`).
//! The client retries `UNAVAILABLE` through the explicit opt-in (gRPC calls are POSTs),
//! honours the server's pushback, judges answers by `grpc-status` in headers *and*
//! trailers (`GrpcStatus` over `ReadTrailersLayer`) with a circuit breaker, and hands
//! its deadline on (`PropagateDeadlineLayer`). Then it prints `/metrics`.
//!
//! No `protoc`: the service is written by hand and messages are raw bytes (`RawCodec`,
//! from the workspace's test support, standing in for generated code); with generated
//! code the layers are the same (`Server::builder().layer(..)`, and the generated client
//! takes the layered channel).

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::uri::PathAndQuery;
use resilience_core::bulkhead::Bulkhead;
use resilience_core::circuit_breaker::CircuitBreaker;
use resilience_core::retry::{Backoff, RetryPolicy};
use resilience_core::{BoxError, Deadline};
use resilience_test_support::grpc::{RawCodec, message_then_status};
use resilience_tower::body::PrefixedBody;
use resilience_tower::bulkhead::BulkheadLayer;
use resilience_tower::circuit_breaker::CircuitBreakerLayer;
use resilience_tower::deadline::{DeadlineLayer, PropagateDeadlineLayer};
use resilience_tower::http::HttpErrorLayer;
use resilience_tower::http::grpc::{self, GrpcStatus, ReadTrailersLayer};
use resilience_tower::retry::HttpRetryLayer;
use tonic::Status;
use tower::{Service, ServiceBuilder};

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let prometheus = resilience_core::prometheus::builder().install_recorder()?;
    resilience_core::telemetry::describe();

    // The server: errors as gRPC statuses, the caller's deadline (at most 250 ms here),
    // a bulkhead.
    let inventory = Inventory::default();
    let server_layers = ServiceBuilder::new()
        .layer(HttpErrorLayer::new())
        .layer(
            DeadlineLayer::builder()
                .max(Duration::from_millis(250))
                .build()?,
        )
        .layer(BulkheadLayer::new(
            Bulkhead::builder()
                .name("inventory")
                .max_concurrent(4)
                .build()?,
        ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let router = tonic::transport::Server::builder()
        .layer(server_layers)
        .add_service(inventory.clone());
    tokio::spawn(router.serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener)));

    // The client: retry (opted in for gRPC), a breaker judging grpc-status in headers
    // and trailers, the deadline handed on.
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))?
        .connect()
        .await?;
    let policy = RetryPolicy::builder()
        .name("inventory")
        .max_attempts(3)
        .backoff(Backoff::exponential(Duration::from_millis(10)))
        .build()?;
    let breaker = CircuitBreaker::builder()
        .name("inventory")
        // Slow's DEADLINE_EXCEEDED is one failure, Broken's three attempts the others.
        .consecutive_failures(4)
        .open_duration(Duration::from_secs(30))
        .build()?;
    let client = ServiceBuilder::new()
        .layer(
            HttpRetryLayer::new(policy)
                .classifier(GrpcStatus::new())
                // Every method of this API is idempotent: its calls may be repeated.
                .also_retry_if(|request| grpc::is_grpc(&request.headers)),
        )
        .map_request(|request: http::Request<PrefixedBody<tonic::body::Body>>| {
            request.map(tonic::body::Body::new)
        })
        .layer(CircuitBreakerLayer::new(breaker.clone()).classifier(GrpcStatus::new()))
        .layer(ReadTrailersLayer::new())
        .layer(PropagateDeadlineLayer::new())
        .service(channel);

    // 1. Two UNAVAILABLE answers with a 50 ms pushback, then OK: retried, no error seen.
    let deadline = Deadline::after(Duration::from_secs(2));
    let answer = resilience_core::deadline::scope(deadline, call(client.clone(), "Reserve")).await;
    println!(
        "Reserve -> {} (the server was called {} times)",
        show(&answer),
        inventory.reserve_calls.load(Ordering::SeqCst)
    );

    // 2. Slow, called with 300 ms left: the client writes `grpc-timeout`, the server
    //    allows at most 250 ms of it and gives up first: DEADLINE_EXCEEDED, not retried.
    let deadline = Deadline::after(Duration::from_millis(300));
    let answer = resilience_core::deadline::scope(deadline, call(client.clone(), "Slow")).await;
    println!("Slow -> {}", show(&answer));

    // 3. Broken answers a message, then UNAVAILABLE in its trailers: failures the breaker
    //    sees because the trailers are read. It opens; the next call is refused locally
    //    (a client-side error, which tonic reports as UNKNOWN with the error's text).
    for _ in 0..2 {
        let answer = call(client.clone(), "Broken").await;
        println!(
            "Broken -> {} (breaker {:?})",
            show(&answer),
            breaker.state()
        );
    }

    let metrics = prometheus.render();
    println!("\nGET /metrics:\n{metrics}--- end of /metrics");
    Ok(())
}

fn show(answer: &Result<String, Status>) -> String {
    match answer {
        Ok(text) => format!("OK {text:?}"),
        Err(status) => format!("{:?}: {}", status.code(), status.message()),
    }
}

/// Calls `inventory.Inventory/<method>` with tonic's generic client.
async fn call<S, B>(client: S, method: &str) -> Result<String, Status>
where
    S: Service<http::Request<tonic::body::Body>, Response = http::Response<B>>,
    S::Error: Into<BoxError>,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    let mut grpc = tonic::client::Grpc::new(client);
    grpc.ready()
        .await
        .map_err(|e| Status::from_error(e.into()))?;
    let path = PathAndQuery::try_from(format!("/inventory.Inventory/{method}"))
        .map_err(|e| Status::internal(e.to_string()))?;
    let answer = grpc
        .unary(
            tonic::Request::new(Bytes::from_static(b"sku-42")),
            path,
            RawCodec,
        )
        .await?;
    Ok(String::from_utf8_lossy(&answer.into_inner()).into_owned())
}

/// The service, written by hand: `Reserve` (UNAVAILABLE twice, then OK), `Slow` (5 s),
/// `Broken` (a message, then UNAVAILABLE in the trailers).
#[derive(Clone, Debug, Default)]
struct Inventory {
    reserve_calls: Arc<AtomicU32>,
}

impl tonic::server::NamedService for Inventory {
    const NAME: &'static str = "inventory.Inventory";
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl Service<http::Request<tonic::body::Body>> for Inventory {
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<tonic::body::Body>) -> Self::Future {
        let method = request
            .uri()
            .path()
            .rsplit('/')
            .next()
            .unwrap_or("")
            .to_owned();
        if method == "Broken" {
            return Box::pin(async { Ok(message_then_status(b"half", 14, "backend%20lost")) });
        }
        let reserve_calls = Arc::clone(&self.reserve_calls);
        let handler = tower::service_fn(move |_: tonic::Request<Bytes>| {
            let method = method.clone();
            let reserve_calls = Arc::clone(&reserve_calls);
            async move {
                match method.as_str() {
                    "Reserve" if reserve_calls.fetch_add(1, Ordering::SeqCst) < 2 => {
                        let mut status = Status::unavailable("warming up");
                        status
                            .metadata_mut()
                            .insert("grpc-retry-pushback-ms", "50".parse().expect("ascii"));
                        Err(status)
                    }
                    "Reserve" => Ok(tonic::Response::new(Bytes::from_static(b"reserved"))),
                    "Slow" => {
                        tokio::time::sleep(Duration::from_secs(5)).await;
                        Ok(tonic::Response::new(Bytes::from_static(b"late")))
                    }
                    _ => Err(Status::unimplemented("no such method")),
                }
            }
        });
        Box::pin(async move {
            Ok(tonic::server::Grpc::new(RawCodec)
                .unary(handler, request)
                .await)
        })
    }
}
