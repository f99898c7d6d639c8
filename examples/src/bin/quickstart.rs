//! The quickest look at what the workspace does: a circuit breaker in front of a handler
//! whose dependency goes down and comes back.
//!
//! Run: `cargo run -p resilience-examples --bin quickstart`
//!
//! Starts an axum service on 127.0.0.1 whose route sits behind `CircuitBreakerLayer` and
//! `HttpErrorLayer`, sends it requests with a real HTTP client while the (pretend)
//! payments dependency is up, down, then up again, prints what came back, and exits.
//! While the dependency is down the handler answers 503 itself; after a few of those the
//! breaker opens and answers 503 + `Retry-After` with an RFC 9457 problem+json body,
//! without calling the handler at all; once the open duration has passed, one probe goes
//! through and, the dependency being back, closes the breaker.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::{Router, routing::get};
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use resilience_tower::circuit_breaker::{CircuitBreaker, CircuitBreakerLayer};
use resilience_tower::http::HttpErrorLayer;
use tower::ServiceBuilder;

/// The (pretend) payments dependency: whether it is up, and how often the handler ran.
#[derive(Clone, Default)]
struct Payments {
    up: Arc<AtomicBool>,
    handled: Arc<AtomicU32>,
}

/// A handler as a hurried service would write it: it answers 503 when payments is down.
async fn charge(State(payments): State<Payments>) -> (StatusCode, &'static str) {
    payments.handled.fetch_add(1, Ordering::SeqCst);
    if payments.up.load(Ordering::SeqCst) {
        (StatusCode::OK, "charged\n")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "payments is down\n")
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Opens when half of the last 3 calls (at least 3) failed; probes again after 500 ms.
    let breaker = CircuitBreaker::builder()
        .name("payments")
        .count_window(3)
        .minimum_calls(3)
        .open_duration(Duration::from_millis(500))
        .half_open_calls(1)
        .build()?;
    let payments = Payments::default();
    let app = Router::new()
        .route("/charge", get(charge))
        .with_state(payments.clone())
        .layer(
            ServiceBuilder::new()
                // Outermost: a refusal becomes 503 + Retry-After + problem+json.
                .layer(HttpErrorLayer::new())
                // Judged by status by default: a 5xx answer counts as a failure.
                .layer(CircuitBreakerLayer::new(breaker.clone())),
        );

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, app).await });
    println!("serving on http://{addr}");

    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let script = [(true, 1), (false, 5), (true, 1)];
    for (up, requests) in script {
        payments.up.store(up, Ordering::SeqCst);
        if up && breaker.state() != resilience_tower::circuit_breaker::State::Closed {
            // Let the open duration pass: the next request is the probe.
            tokio::time::sleep(Duration::from_millis(600)).await;
        }
        for _ in 0..requests {
            let response = client.get(format!("http://{addr}/charge").parse()?).await?;
            let status = response.status();
            let retry_after = response
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap_or("?").to_owned());
            let body = response.into_body().collect().await?.to_bytes();
            println!(
                "\npayments {}, breaker {:?}: GET /charge -> {status}{}",
                if up { "up" } else { "down" },
                breaker.state(),
                retry_after.map_or_else(String::new, |s| format!(" (Retry-After: {s})")),
            );
            println!("{}", String::from_utf8_lossy(&body).trim_end());
        }
    }
    println!(
        "\nthe handler ran {} times for 7 requests: the open breaker answered the rest",
        payments.handled.load(Ordering::SeqCst)
    );
    Ok(())
}
