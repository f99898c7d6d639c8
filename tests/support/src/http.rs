//! A real server and client on 127.0.0.1, and the checks every problem+json answer must
//! pass.

use std::net::SocketAddr;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tokio::net::TcpListener;

/// Serves `app` on an ephemeral port of 127.0.0.1 until the test ends.
///
/// # Panics
///
/// When the loopback port cannot be bound.
pub async fn serve(app: axum::Router) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let addr = listener.local_addr().expect("local addr");
    tokio::spawn(async move {
        axum::serve(listener, app).await.expect("server runs");
    });
    addr
}

/// Sends a GET with a real HTTP/1 client; returns the response with its whole body.
///
/// # Panics
///
/// When the server does not answer.
pub async fn get(addr: SocketAddr, path: &str) -> Response<Bytes> {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let request = Request::get(format!("http://{addr}{path}"))
        .body(Full::new(Bytes::new()))
        .expect("valid request");
    let response = client.request(request).await.expect("server answers");
    let (parts, body) = response.into_parts();
    let body = body.collect().await.expect("body reads").to_bytes();
    Response::from_parts(parts, body)
}

/// Parses a problem+json body and checks the members RFC 9457 requires of us.
///
/// # Panics
///
/// When the body is not such a problem.
#[must_use]
pub fn problem_json(body: &[u8]) -> serde_json::Value {
    let value: serde_json::Value = serde_json::from_slice(body).expect("body is JSON");
    assert!(value["type"].is_string(), "type: {value}");
    assert!(value["title"].is_string(), "title: {value}");
    assert!(value["status"].is_u64(), "status: {value}");
    value
}
