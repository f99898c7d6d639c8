//! Real axum apps on 127.0.0.1: per-client limits by peer address (`ConnectInfo`), and one
//! limit across two app instances sharing a Redis.
// The peer-address test needs the `axum` feature; without it its helpers go unused.
#![cfg_attr(not(feature = "axum"), allow(unused_imports, dead_code))]

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use resilience_core::rate_limit::KeyedRateLimiter;
use resilience_tower::http::HttpErrorLayer;
use resilience_tower::rate_limit::{PeerIp, RATELIMIT, RateLimitLayer};
use tokio::net::TcpListener;
use tower::ServiceBuilder;

/// Serves `app` with the peer address of each connection recorded (`ConnectInfo`).
async fn serve_with_peers(app: Router) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap();
    });
    addr
}

/// A GET from the loopback address `from` (any of 127.0.0.0/8 is this machine).
async fn get_from(from: IpAddr, addr: SocketAddr) -> Response<Bytes> {
    let mut connector = HttpConnector::new();
    connector.set_local_address(Some(from));
    let client = Client::builder(TokioExecutor::new()).build::<_, Full<Bytes>>(connector);
    let request = Request::get(format!("http://{addr}/"))
        .body(Full::new(Bytes::new()))
        .unwrap();
    let (parts, body) = client.request(request).await.unwrap().into_parts();
    Response::from_parts(parts, body.collect().await.unwrap().to_bytes())
}

// Reads axum's `ConnectInfo`, which needs the `axum` feature.
#[cfg(feature = "axum")]
#[tokio::test]
async fn each_client_address_gets_its_own_limit() {
    let per_client = KeyedRateLimiter::<IpAddr>::builder()
        .name("per-client")
        .limit(2, Duration::from_secs(3600))
        .build()
        .unwrap();
    let app = Router::new().route("/", get(|| async { "hello" })).layer(
        ServiceBuilder::new()
            .layer(HttpErrorLayer::new())
            .layer(RateLimitLayer::new(per_client.clone()).key(PeerIp::new())),
    );
    let addr = serve_with_peers(app).await;
    let alice: IpAddr = "127.0.0.1".parse().unwrap();
    let bob: IpAddr = "127.0.0.2".parse().unwrap();
    for (left, reset) in [(1, 1800), (0, 3600)] {
        let response = get_from(alice, addr).await;
        assert_eq!(response.status(), StatusCode::OK);
        let expected = format!(r#""per-client";r={left};t={reset}"#);
        assert_eq!(response.headers()[RATELIMIT], expected.as_str());
    }
    let refused = get_from(alice, addr).await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(refused.headers()["retry-after"], "1800");
    // Another address is another client.
    assert_eq!(get_from(bob, addr).await.status(), StatusCode::OK);
    assert_eq!(per_client.len(), 2);
}

#[cfg(feature = "redis")]
#[tokio::test]
async fn two_app_instances_sharing_redis_enforce_one_limit_per_api_key() {
    use resilience_core::rate_limit::RedisRateLimiter;
    use resilience_test_support::redis::redis_url_or_skip;
    use resilience_tower::rate_limit::Header;

    use resilience_test_support::http::serve;

    let Some(url) = redis_url_or_skip("two_app_instances_sharing_redis") else {
        return;
    };
    let prefix = format!("resilience-test:{:016x}:", rand_suffix());
    let instance = || {
        let limiter = RedisRateLimiter::builder(url.as_str())
            .name("api")
            .prefix(prefix.clone())
            .limit(5, Duration::from_secs(3600))
            .timeout(Duration::from_secs(5))
            .build()
            .unwrap();
        Router::new().route("/", get(|| async { "hello" })).layer(
            ServiceBuilder::new().layer(HttpErrorLayer::new()).layer(
                RateLimitLayer::new(limiter)
                    .key(Header::new(http::HeaderName::from_static("x-api-key"))),
            ),
        )
    };
    let servers = [serve(instance()).await, serve(instance()).await];
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let mut admitted = std::collections::HashMap::new();
    for i in 0..24 {
        let key = if i % 2 == 0 { "tenant-a" } else { "tenant-b" };
        let server = servers[(i / 2) % 2];
        let request = Request::get(format!("http://{server}/"))
            .header("x-api-key", key)
            .body(Full::new(Bytes::new()))
            .unwrap();
        let status = client.request(request).await.unwrap().status();
        assert!(
            status == StatusCode::OK || status == StatusCode::TOO_MANY_REQUESTS,
            "{status}"
        );
        *admitted.entry(key).or_insert(0) += u32::from(status == StatusCode::OK);
    }
    assert_eq!(admitted["tenant-a"], 5, "one limit across both instances");
    assert_eq!(admitted["tenant-b"], 5);
}

#[cfg(feature = "redis")]
fn rand_suffix() -> u64 {
    use std::hash::{BuildHasher, RandomState};
    RandomState::new().hash_one(std::time::SystemTime::now())
}
