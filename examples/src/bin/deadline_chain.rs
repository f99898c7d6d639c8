//! Deadline propagation across three services on 127.0.0.1.
//!
//! Run: `cargo run -p resilience-examples --bin deadline_chain`
//!
//! `edge` gives every request 800 ms. It calls `orders`, which calls `inventory`; each hop
//! reads the time left from the `connect-timeout-ms` header (`DeadlineLayer`) and writes
//! what is still left, minus a 20 ms margin, into its own call (`PropagateDeadlineLayer`).
//! Every service prints the budget it received. When `inventory` is slow, all three give
//! up together at the edge's deadline — nobody keeps working for a caller that left.

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::Uri;
use axum::routing::get;
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use resilience_core::{BoxError, Deadline};
use resilience_tower::deadline::{DeadlineLayer, PropagateDeadlineLayer};
use resilience_tower::http::{HttpError, HttpErrorLayer};
use tokio::time::Instant;
use tower::util::BoxCloneSyncService;
use tower::{ServiceBuilder, ServiceExt};

type HttpClient = BoxCloneSyncService<
    http::Request<Empty<Bytes>>,
    http::Response<hyper::body::Incoming>,
    BoxError,
>;

/// A client that hands the remaining deadline on.
fn propagating_client() -> HttpClient {
    let plain = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let client = ServiceBuilder::new()
        .layer(
            PropagateDeadlineLayer::builder()
                .margin(Duration::from_millis(20))
                .build(),
        )
        .service(plain);
    BoxCloneSyncService::new(client.map_err(BoxError::from))
}

fn left() -> String {
    Deadline::current().map_or("none".into(), |d| {
        format!("{} ms", d.remaining().as_millis())
    })
}

#[derive(Clone)]
struct Next {
    name: &'static str,
    url: Option<String>,
    client: HttpClient,
}

/// Every service: print the budget, call the next one (if any), answer.
async fn handle(
    State(next): State<Next>,
    uri: Uri,
) -> Result<(http::StatusCode, String), HttpError> {
    let slow = uri.query() == Some("slow=1");
    println!("  {:<9} received, budget left: {}", next.name, left());
    let started = Instant::now();
    let answer = match &next.url {
        Some(url) => {
            let url = format!("{url}?slow={}", u8::from(slow));
            let request = http::Request::get(url).body(Empty::new())?;
            let response = next.client.clone().oneshot(request).await?;
            let status = response.status();
            let body = response.into_body().collect().await?.to_bytes();
            (status, String::from_utf8_lossy(&body).into_owned())
        }
        None => {
            if slow {
                tokio::time::sleep(Duration::from_secs(5)).await;
            }
            (http::StatusCode::OK, "in stock\n".to_owned())
        }
    };
    println!(
        "  {:<9} answered after {} ms",
        next.name,
        started.elapsed().as_millis()
    );
    Ok(answer)
}

async fn service(
    name: &'static str,
    next: Option<SocketAddr>,
    default: Option<Duration>,
) -> std::io::Result<SocketAddr> {
    let mut deadline = DeadlineLayer::builder().name(name);
    if let Some(budget) = default {
        deadline = deadline.default_timeout(budget);
    }
    let state = Next {
        name,
        url: next.map(|a| format!("http://{a}/")),
        client: propagating_client(),
    };
    let app = Router::new()
        .route("/", get(handle))
        .with_state(state)
        .layer(
            ServiceBuilder::new()
                .layer(HttpErrorLayer::new())
                .layer(deadline.build().expect("valid")),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(addr)
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let inventory = service("inventory", None, None).await?;
    let orders = service("orders", Some(inventory), None).await?;
    let edge = service("edge", Some(orders), Some(Duration::from_millis(800))).await?;
    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();

    for slow in [false, true] {
        println!(
            "\nGET edge{}",
            if slow { " (inventory is slow)" } else { "" }
        );
        let started = Instant::now();
        let response = client
            .get(format!("http://{edge}/?slow={}", u8::from(slow)).parse()?)
            .await?;
        let status = response.status();
        let body = response.into_body().collect().await?.to_bytes();
        println!(
            "-> {status} after {} ms: {}",
            started.elapsed().as_millis(),
            String::from_utf8_lossy(&body)
                .lines()
                .next()
                .unwrap_or_default()
        );
    }
    // Give the abandoned hops a moment to show they stopped (they print nothing more).
    tokio::time::sleep(Duration::from_millis(200)).await;
    Ok(())
}
