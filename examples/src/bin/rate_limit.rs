//! Rate limiting seen from a real HTTP client: per client on a server, paced on a client,
//! and one limit across two instances of a service (Redis).
//!
//! Run: `cargo run -p resilience-examples --bin rate_limit`
//! (`-- --serve` keeps the server up afterwards, for `curl -i http://ADDR/search`).
//!
//! 1. **Server, per client.** `/search` allows each client address 3 requests at once,
//!    then 3 per 10 seconds (`KeyedRateLimiter<IpAddr>` keyed by `PeerIp`). Five requests
//!    in a row get three `200`s, each with `RateLimit-Policy` and `RateLimit` saying what
//!    is left, then `429 Too Many Requests` with `Retry-After` and a problem+json body.
//! 2. **Client, paced.** `/geocode` stands for a provider with a quota (5 a second, 2 at
//!    once). Eight calls sent as fast as possible mostly get `429`s; the same eight through
//!    `RateLimitLayer::client` (4 a second, waiting at most 3 s for a turn) all get `200`.
//! 3. **Across instances.** With `RESILIENCE_REDIS_URL` or `REDIS_URL` set
//!    (`redis://127.0.0.1:6379/`),
//!    two servers, each with its own `RedisRateLimiter` of the same name, share one limit
//!    of 6 at once: twelve requests sent to them in turn get six `200`s between them.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use axum::{Router, routing::get};
use http::{Request, Response};
use http_body_util::{BodyExt, Empty};
use hyper::body::{Bytes, Incoming};
use hyper_util::client::legacy::{Client, connect::HttpConnector};
use hyper_util::rt::TokioExecutor;
use resilience_core::BoxError;
use resilience_core::rate_limit::{KeyedRateLimiter, RateLimiter, RedisRateLimiter};
use resilience_tower::http::HttpErrorLayer;
use resilience_tower::rate_limit::{PeerIp, RateLimitLayer};
use tower::{Service, ServiceBuilder, ServiceExt};

type HttpClient = Client<HttpConnector, Empty<Bytes>>;

/// Serves `app` on a free loopback port, with the peer address `PeerIp` reads.
async fn serve(app: Router) -> Result<SocketAddr, BoxError> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
    });
    Ok(addr)
}

/// One line per response: status, the rate limit headers, and the body of a refusal.
async fn describe(response: Response<Incoming>) -> Result<String, BoxError> {
    let status = response.status();
    let mut line = status.to_string();
    for name in [
        "retry-after",
        "ratelimit-policy",
        "ratelimit",
        "content-type",
    ] {
        if let Some(value) = response.headers().get(name) {
            line.push_str(&format!("  {name}: {}", value.to_str()?));
        }
    }
    let body = response.into_body().collect().await?.to_bytes();
    if !status.is_success() {
        line.push_str(&format!("\n    {}", String::from_utf8_lossy(&body)));
    }
    Ok(line)
}

async fn get_status(client: &HttpClient, url: &str) -> Result<u16, BoxError> {
    let response = client.get(url.parse()?).await?;
    let status = response.status().as_u16();
    response.into_body().collect().await?;
    Ok(status)
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let client: HttpClient = Client::builder(TokioExecutor::new()).build_http();

    // 1. A server limiting each client address.
    let per_client = KeyedRateLimiter::<IpAddr>::builder()
        .name("per-client")
        .limit(3, Duration::from_secs(10))
        .max_keys(100_000)
        .build()?;
    let provider = RateLimiter::builder()
        .name("provider")
        .rate(5.0)
        .burst(2)
        .build()?;
    let search = Router::new()
        .route("/search", get(|| async { "results\n" }))
        .layer(
            ServiceBuilder::new()
                // A refusal becomes 429 + Retry-After + RateLimit headers + problem+json.
                .layer(HttpErrorLayer::new())
                .layer(RateLimitLayer::new(per_client).key(PeerIp::new())),
        );
    let geocode = Router::new()
        .route("/geocode", get(|| async { "52.52,13.40\n" }))
        .layer(
            ServiceBuilder::new()
                .layer(HttpErrorLayer::new())
                .layer(RateLimitLayer::new(provider)),
        );
    let app = search.merge(geocode);
    let addr = serve(app).await?;
    println!("serving on http://{addr}\n");

    println!("1. five requests in a row from one client (3 at once, then 3 per 10 s):");
    for _ in 0..5 {
        let response = client.get(format!("http://{addr}/search").parse()?).await?;
        println!("GET /search -> {}", describe(response).await?);
    }

    // 2. Calling the provider: flat out, then paced by the client layer.
    println!("\n2. eight calls to a provider allowing 5 a second (2 at once):");
    let url = format!("http://{addr}/geocode");
    let mut ok = 0;
    for _ in 0..8 {
        ok += u32::from(get_status(&client, &url).await? == 200);
    }
    println!("flat out: {ok} of 8 answered 200, the rest 429");

    // Let the provider's bucket fill again, then pace the calls below its rate.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let quota = RateLimiter::builder()
        .name("geocoder")
        .rate(4.0)
        .burst(1)
        .max_wait(Duration::from_secs(3))
        .build()?;
    let raw = {
        let client = client.clone();
        tower::service_fn(move |request: Request<Empty<Bytes>>| {
            let client = client.clone();
            async move { client.request(request).await }
        })
    };
    let mut paced = ServiceBuilder::new()
        .layer(RateLimitLayer::client(quota))
        .service(raw);
    let started = Instant::now();
    let mut ok = 0;
    for _ in 0..8 {
        let request = Request::get(url.as_str()).body(Empty::new())?;
        let response = paced.ready().await?.call(request).await?;
        ok += u32::from(response.status() == 200);
    }
    println!(
        "with RateLimitLayer::client (4 a second): {ok} of 8 answered 200, in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    // 3. Two instances of one service, one limit between them.
    println!("\n3. two instances sharing one limit of 6 at once through Redis:");
    match resilience_examples::redis_url() {
        Some(url) => across_instances(&client, &url).await?,
        None => println!("skipped: set RESILIENCE_REDIS_URL or REDIS_URL to run it"),
    }

    if std::env::args().any(|arg| arg == "--serve") {
        println!("\nstill serving on http://{addr} (Ctrl-C to stop)");
        tokio::signal::ctrl_c().await?;
    }
    Ok(())
}

async fn across_instances(client: &HttpClient, redis_url: &str) -> Result<(), BoxError> {
    // A prefix of this run's own, so that runs never share a bucket.
    let prefix = resilience_examples::run_prefix("rate-limit-example");
    let mut instances = Vec::new();
    for _ in 0..2 {
        // Each instance builds its own limiter, as two processes would.
        let limiter = RedisRateLimiter::builder(redis_url)
            .name("orders")
            .prefix(prefix.clone())
            .limit(6, Duration::from_secs(60))
            .build()?;
        if let Err(error) = limiter.ping().await {
            println!("skipped: no Redis at {redis_url} ({error})");
            return Ok(());
        }
        let app = Router::new()
            .route("/orders", get(|| async { "orders\n" }))
            .layer(
                ServiceBuilder::new()
                    .layer(HttpErrorLayer::new())
                    .layer(RateLimitLayer::new(limiter)),
            );
        instances.push(serve(app).await?);
    }
    let mut admitted = [0; 2];
    for i in 0..12 {
        let status = get_status(client, &format!("http://{}/orders", instances[i % 2])).await?;
        admitted[i % 2] += u32::from(status == 200);
    }
    println!(
        "across two instances: {} of 12 admitted ({} by the first, {} by the second)",
        admitted[0] + admitted[1],
        admitted[0],
        admitted[1]
    );
    Ok(())
}
