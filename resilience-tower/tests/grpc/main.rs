//! gRPC with tonic: a real tonic server and client on 127.0.0.1, the layers between them.
//!
//! No protobuf compiler: the service is written by hand (a `NamedService` whose methods
//! run through `tonic::server::Grpc`) and the messages are raw bytes (the test support's
//! `RawCodec`), which is all the layers see of a gRPC call anyway: headers, frames and
//! trailers.

mod deadline;
mod errors;
mod retry;

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::uri::PathAndQuery;
use http_body::Body;
use resilience_core::{BoxError, Deadline};
use resilience_test_support::grpc::{RawCodec, message_then_status};
use resilience_tower::deadline::PropagateDeadlineLayer;
use tonic::Status;
use tonic::server::NamedService;
use tower::{Service, ServiceBuilder};

/// The test service, `test.Echo`. `Say` answers by its message:
///
/// - `deadline`: `remaining=<ms>` (the ambient deadline the server layers set) or `none`;
/// - `sleep`: sleeps ten seconds (a call its deadline or a test cuts short);
/// - `hop`: asks the next hop's `Say` for `deadline` through `PropagateDeadlineLayer`;
/// - `flaky`: `UNAVAILABLE` (with a 20 ms pushback) for the first `unavailable_first`
///   calls, then `ok`;
/// - `invalid`: `INVALID_ARGUMENT`;
/// - anything else: the message itself.
///
/// `Trailers` answers a message, then `grpc-status: 14` in the trailers.
#[derive(Clone, Debug, Default)]
pub(crate) struct Echo {
    pub(crate) calls: Arc<AtomicU32>,
    pub(crate) unavailable_first: u32,
    pub(crate) next_hop: Option<SocketAddr>,
}

impl NamedService for Echo {
    const NAME: &'static str = "test.Echo";
}

pub(crate) const SAY: &str = "/test.Echo/Say";
pub(crate) const TRAILERS: &str = "/test.Echo/Trailers";

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl Service<http::Request<tonic::body::Body>> for Echo {
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<tonic::body::Body>) -> Self::Future {
        let call = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        let echo = self.clone();
        if request.uri().path() == TRAILERS {
            return Box::pin(async { Ok(message_then_status(b"hi", 14, "lost%20the%20backend")) });
        }
        Box::pin(async move {
            let handler = tower::service_fn(move |request: tonic::Request<Bytes>| {
                let echo = echo.clone();
                async move { echo.say(call, request.into_inner()).await }
            });
            Ok(tonic::server::Grpc::new(RawCodec)
                .unary(handler, request)
                .await)
        })
    }
}

impl Echo {
    async fn say(&self, nth: u32, message: Bytes) -> Result<tonic::Response<Bytes>, Status> {
        let answer = match &message[..] {
            b"deadline" => match Deadline::current() {
                Some(deadline) => format!("remaining={}", deadline.remaining().as_millis()),
                None => "none".to_owned(),
            },
            b"sleep" => {
                tokio::time::sleep(Duration::from_secs(10)).await;
                "late".to_owned()
            }
            b"hop" => {
                let next = self.next_hop.expect("a next hop");
                let client = ServiceBuilder::new()
                    .layer(PropagateDeadlineLayer::new())
                    .service(channel(next).await);
                call(client, SAY, "deadline", None).await?
            }
            b"flaky" if nth <= self.unavailable_first => {
                let mut status = Status::unavailable("warming up");
                status
                    .metadata_mut()
                    .insert("grpc-retry-pushback-ms", "20".parse().unwrap());
                return Err(status);
            }
            b"flaky" => "ok".to_owned(),
            b"invalid" => return Err(Status::invalid_argument("no such thing")),
            _ => return Ok(tonic::Response::new(message)),
        };
        Ok(tonic::Response::new(Bytes::from(answer)))
    }
}

/// Serves `$echo` behind `$layer` with tonic's server on a free loopback port.
#[macro_export]
macro_rules! serve {
    ($layer:expr, $echo:expr) => {{
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let router = tonic::transport::Server::builder()
            .layer($layer)
            .add_service($echo);
        tokio::spawn(
            router.serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener)),
        );
        addr
    }};
}

/// A tonic channel to `addr`.
pub(crate) async fn channel(addr: SocketAddr) -> tonic::transport::Channel {
    tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap()
}

/// Calls `path` through `client` with tonic's generic client.
pub(crate) async fn call<S, B>(
    client: S,
    path: &'static str,
    message: &'static str,
    timeout: Option<Duration>,
) -> Result<String, Status>
where
    S: Service<http::Request<tonic::body::Body>, Response = http::Response<B>>,
    S::Error: Into<BoxError>,
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    let mut grpc = tonic::client::Grpc::new(client);
    grpc.ready()
        .await
        .map_err(|e| Status::from_error(e.into()))?;
    let mut request = tonic::Request::new(Bytes::from_static(message.as_bytes()));
    if let Some(timeout) = timeout {
        request.set_timeout(timeout);
    }
    let answer = grpc
        .unary(request, PathAndQuery::from_static(path), RawCodec)
        .await?;
    Ok(String::from_utf8_lossy(&answer.into_inner()).into_owned())
}

/// The milliseconds in a `remaining=<ms>` answer.
pub(crate) fn remaining_ms(answer: &str) -> u64 {
    answer
        .strip_prefix("remaining=")
        .and_then(|ms| ms.parse().ok())
        .unwrap_or_else(|| panic!("not a remaining budget: {answer}"))
}
