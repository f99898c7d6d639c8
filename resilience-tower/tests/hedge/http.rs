//! `HttpHedgeLayer`: only requests that may be repeated are hedged, and every attempt
//! sends the same bytes.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use resilience_tower::body::PrefixedBody;
use resilience_tower::hedge::{Hedge, HttpHedgeLayer};
use tower::{Layer, ServiceExt};

const MS: Duration = Duration::from_millis(1);

/// An upstream whose first call hangs for a second; records every body it receives.
#[derive(Clone, Default)]
struct Upstream {
    bodies: Arc<Mutex<Vec<Bytes>>>,
}

type Boxed = Pin<Box<dyn Future<Output = Result<Response<String>, Infallible>> + Send>>;

impl tower::Service<Request<PrefixedBody<Full<Bytes>>>> for Upstream {
    type Response = Response<String>;
    type Error = Infallible;
    type Future = Boxed;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<PrefixedBody<Full<Bytes>>>) -> Boxed {
        let bodies = Arc::clone(&self.bodies);
        Box::pin(async move {
            let body = request.into_body().collect().await.unwrap().to_bytes();
            let n = {
                let mut bodies = bodies.lock().unwrap();
                bodies.push(body);
                bodies.len()
            };
            if n == 1 {
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            Ok(Response::new(format!("attempt {n}")))
        })
    }
}

impl Upstream {
    fn bodies(&self) -> Vec<Bytes> {
        self.bodies.lock().unwrap().clone()
    }
}

fn layer() -> HttpHedgeLayer {
    let hedge = Hedge::builder().delay(10 * MS).no_budget().build().unwrap();
    HttpHedgeLayer::new(hedge)
}

fn request(method: Method, body: &'static str) -> Request<Full<Bytes>> {
    Request::builder()
        .method(method)
        .uri("http://upstream/items/7")
        .body(Full::new(Bytes::from_static(body.as_bytes())))
        .unwrap()
}

#[tokio::test(start_paused = true)]
async fn a_put_is_hedged_and_both_attempts_send_the_same_bytes() {
    let upstream = Upstream::default();
    let svc = layer().layer(upstream.clone());
    let response = svc
        .oneshot(request(Method::PUT, "{\"qty\":3}"))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.into_body(), "attempt 2");
    let sent = Bytes::from_static(b"{\"qty\":3}");
    assert_eq!(upstream.bodies(), [sent.clone(), sent]);
}

#[tokio::test(start_paused = true)]
async fn a_post_is_sent_once_unless_opted_in_or_carrying_an_idempotency_key() {
    let upstream = Upstream::default();
    let svc = layer().layer(upstream.clone());
    let response = svc.oneshot(request(Method::POST, "charge")).await.unwrap();
    assert_eq!(
        response.into_body(),
        "attempt 1",
        "waited for the one attempt"
    );
    assert_eq!(upstream.bodies().len(), 1);

    let upstream = Upstream::default();
    let svc = layer().layer(upstream.clone());
    let mut keyed = request(Method::POST, "charge");
    keyed
        .headers_mut()
        .insert("idempotency-key", "k-1".parse().unwrap());
    assert_eq!(svc.oneshot(keyed).await.unwrap().into_body(), "attempt 2");

    let upstream = Upstream::default();
    let svc = layer()
        .also_hedge_if(|parts| parts.uri.path().starts_with("/items"))
        .layer(upstream.clone());
    let response = svc.oneshot(request(Method::POST, "search")).await.unwrap();
    assert_eq!(response.into_body(), "attempt 2");
    assert_eq!(upstream.bodies().len(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_body_over_the_cap_is_sent_once_whole_and_not_hedged() {
    let upstream = Upstream::default();
    let svc = layer().max_body(4).layer(upstream.clone());
    let response = svc
        .oneshot(request(Method::PUT, "more than four"))
        .await
        .unwrap();
    assert_eq!(response.into_body(), "attempt 1");
    assert_eq!(upstream.bodies(), [Bytes::from_static(b"more than four")]);
}
