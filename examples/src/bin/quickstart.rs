//! The quickest look at what the workspace does today.
//!
//! Run: `cargo run -p resilience-examples --bin quickstart`
//!
//! Starts an axum service on 127.0.0.1 whose stack ends in `HttpErrorLayer`, sends it a
//! few requests with a real HTTP client, prints what came back, and exits. A dependency
//! that is "down" makes the handler fail with a `resilience_core::Error`; the client sees
//! a 503 with `Retry-After` and an RFC 9457 problem+json body, never a hang or a bare 500.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::extract::State;
use axum::{Router, routing::get};
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use resilience_core::{Error, ErrorKind, Primitive};
use resilience_tower::http::{HttpError, HttpErrorLayer};

/// Whether the (pretend) payments dependency is up.
#[derive(Clone)]
struct Payments {
    up: Arc<AtomicBool>,
}

/// A handler as a hurried service would write it, except that it reports a refused call
/// as a `resilience_core::Error` instead of hanging.
async fn charge(State(payments): State<Payments>) -> Result<&'static str, HttpError> {
    if payments.up.load(Ordering::SeqCst) {
        Ok("charged\n")
    } else {
        Err(Error::new(ErrorKind::CircuitOpen)
            .with_operation("payments.charge")
            .with_primitive(Primitive::CircuitBreaker)
            .with_instance("payments")
            .with_retry_after(Duration::from_secs(5))
            .into())
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let payments = Payments {
        up: Arc::new(AtomicBool::new(true)),
    };
    let app = Router::new()
        .route("/charge", get(charge))
        .with_state(payments.clone())
        .layer(HttpErrorLayer::new());

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, app).await });
    println!("serving on http://{addr}");

    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    for up in [true, false, true] {
        payments.up.store(up, Ordering::SeqCst);
        let response = client.get(format!("http://{addr}/charge").parse()?).await?;
        let status = response.status();
        let retry_after = response
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap_or("?").to_owned());
        let body = response.into_body().collect().await?.to_bytes();
        println!(
            "\npayments {}: GET /charge -> {status}{}",
            if up { "up" } else { "down" },
            retry_after.map_or_else(String::new, |s| format!(" (Retry-After: {s})")),
        );
        println!("{}", String::from_utf8_lossy(&body).trim_end());
    }
    Ok(())
}
