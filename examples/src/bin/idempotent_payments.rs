//! An idempotent payments endpoint whose keys live in Redis, so every instance of the
//! service sees them.
//!
//! Run: `cargo run -p resilience-examples --bin idempotent_payments`
//! (Redis at `RESILIENCE_REDIS_URL` or `REDIS_URL`, default `redis://127.0.0.1:6379/`;
//! without one it says so and exits successfully.)
//!
//! Two gateways share one Redis store, as two replicas behind a load balancer would. A
//! client sends the same payment to both, then ten copies at once: the handler charges
//! once, the other answers are replays (`Idempotent-Replayed: true`) or 409 while the
//! first is still running. A different body under the same key gets 422.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::routing::post;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use resilience_core::idempotency::RedisStore;
use resilience_tower::http::HttpErrorLayer;
use resilience_tower::idempotency::IdempotencyLayer;
use tower::ServiceBuilder;

async fn charge(State(charges): State<Arc<AtomicU64>>, body: String) -> String {
    tokio::time::sleep(Duration::from_millis(200)).await; // the card network
    let n = charges.fetch_add(1, Ordering::SeqCst) + 1;
    format!("charge #{n} for {body}\n")
}

async fn replica(store: RedisStore, charges: Arc<AtomicU64>) -> std::io::Result<String> {
    let app = Router::new()
        .route("/payments", post(charge))
        .with_state(charges)
        .layer(
            ServiceBuilder::new()
                .layer(HttpErrorLayer::new())
                .layer(IdempotencyLayer::new(store, resilience_examples::caller)),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/payments", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(url)
}

async fn pay(
    client: &Client<HttpConnector, Full<Bytes>>,
    url: &str,
    key: &str,
    body: &'static str,
) -> Result<String, resilience_core::BoxError> {
    let request = hyper::Request::post(url)
        .header("authorization", "Bearer shop-7")
        .header("idempotency-key", key)
        .body(Full::new(Bytes::from_static(body.as_bytes())))?;
    let response = client.request(request).await?;
    let status = response.status();
    let replayed = response.headers().contains_key("idempotent-replayed");
    let body = response.into_body().collect().await?.to_bytes();
    let text = String::from_utf8_lossy(&body);
    let first = text.lines().next().unwrap_or_default();
    Ok(format!(
        "{status}{}  {first}",
        if replayed { " (replayed)" } else { "" }
    ))
}

#[tokio::main]
async fn main() -> Result<(), resilience_core::BoxError> {
    let url = resilience_examples::redis_url().unwrap_or_else(|| "redis://127.0.0.1:6379/".into());
    let store = RedisStore::builder(url.as_str())
        .prefix(resilience_examples::run_prefix("example"))
        .timeout(Duration::from_millis(500))
        .build()?;
    if let Err(error) = store.ping().await {
        println!(
            "skipping: no Redis at {url} ({error}); set RESILIENCE_REDIS_URL or REDIS_URL to \
             run this example"
        );
        return Ok(());
    }

    let charges = Arc::new(AtomicU64::new(0));
    let a = replica(store.clone(), Arc::clone(&charges)).await?;
    let b = replica(store, Arc::clone(&charges)).await?;
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();

    println!(
        "replica A, key order-1: {}",
        pay(&client, &a, "order-1", "$25").await?
    );
    println!(
        "replica B, key order-1: {}",
        pay(&client, &b, "order-1", "$25").await?
    );
    println!(
        "replica B, key order-1, other body: {}",
        pay(&client, &b, "order-1", "$99").await?
    );

    println!("\nten copies of order-2 at once, alternating replicas:");
    let copies = (0..10).map(|i| {
        let (client, url) = (
            client.clone(),
            if i % 2 == 0 { a.clone() } else { b.clone() },
        );
        tokio::spawn(async move { pay(&client, &url, "order-2", "$40").await })
    });
    for copy in copies {
        println!("  {}", copy.await??);
    }
    println!(
        "\nthe handler charged {} times for 2 payments",
        charges.load(Ordering::SeqCst)
    );
    Ok(())
}
