//! `FallbackLayer`: answers marked with a header, successes untouched, stale answers per
//! request key, and rejections from the layers below.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use http::{HeaderName, Request, Response, StatusCode};
use resilience_core::bulkhead::Bulkhead;
use resilience_core::{Error, ErrorKind};
use resilience_tower::bulkhead::BulkheadLayer;
use resilience_tower::fallback::{FALLBACK_HEADER, Fallback, FallbackLayer};
use resilience_tower::http::HttpStatus;
use resilience_tower::key::{HttpKey, HttpKeyOf, KeyFn};
use tower::{Layer, ServiceBuilder, ServiceExt, service_fn};

fn status(code: u16, body: &str) -> Response<String> {
    let mut response = Response::new(body.to_owned());
    *response.status_mut() = StatusCode::from_u16(code).unwrap();
    response
}

/// Answers `codes[n]` to the `n`th request (the last code once they run out).
fn upstream(
    codes: &'static [u16],
) -> impl tower::Service<Request<()>, Response = Response<String>, Error = Infallible, Future: Send>
+ Clone {
    let n = Arc::new(AtomicU32::new(0));
    service_fn(move |request: Request<()>| {
        let i = n.fetch_add(1, Ordering::SeqCst) as usize;
        let code = codes[i.min(codes.len() - 1)];
        async move { Ok(status(code, &format!("{} #{i}", request.uri().path()))) }
    })
}

fn path_key() -> KeyFn<fn(&Request<()>) -> String> {
    KeyFn(|request: &Request<()>| request.uri().path().to_owned())
}

#[tokio::test(start_paused = true)]
async fn a_5xx_is_answered_and_marked_and_a_success_is_left_alone() {
    let fallback = Fallback::<Response<String>, Error>::builder()
        .with(|failure| {
            let status = failure.response().map_or(0, |r| r.status().as_u16());
            status_ok(&format!("fallback for {status}"))
        })
        .build()
        .unwrap();
    let layer = FallbackLayer::new(fallback)
        .classifier(HttpStatus::new())
        .header(FALLBACK_HEADER);
    let ok = layer
        .layer(upstream(&[200]))
        .oneshot(Request::new(()))
        .await
        .unwrap();
    assert_eq!((ok.status(), ok.body().as_str()), (StatusCode::OK, "/ #0"));
    assert!(
        ok.headers().get(FALLBACK_HEADER).is_none(),
        "a fresh answer is not marked"
    );
    let not_found = layer
        .layer(upstream(&[404]))
        .oneshot(Request::new(()))
        .await
        .unwrap();
    assert_eq!(
        not_found.status(),
        StatusCode::NOT_FOUND,
        "a 404 is an answer, not an outage"
    );
    let down = layer
        .layer(upstream(&[503]))
        .oneshot(Request::new(()))
        .await
        .unwrap();
    assert_eq!(down.body(), "fallback for 503");
    assert_eq!(down.headers()[FALLBACK_HEADER], "computed");
}

fn status_ok(body: &str) -> Response<String> {
    status(200, body)
}

#[tokio::test(start_paused = true)]
async fn stale_answers_are_kept_per_request_key_within_their_max_age() {
    let fallback = Fallback::<Response<String>, Error, String>::builder()
        .stale(Duration::from_secs(60))
        .build()
        .unwrap();
    // The upstream answers twice, then fails for good.
    let svc = FallbackLayer::new(fallback)
        .classifier(HttpStatus::new())
        .key(path_key())
        .header(HeaderName::from_static("x-degraded"))
        .layer(upstream(&[200, 200, 503]));
    let get = |path: &str| Request::get(path).body(()).unwrap();
    svc.clone().oneshot(get("/a")).await.unwrap();
    svc.clone().oneshot(get("/b")).await.unwrap();
    let a = svc.clone().oneshot(get("/a")).await.unwrap();
    assert_eq!(a.body(), "/a #0");
    assert_eq!(a.headers()["x-degraded"], "stale");
    let b = svc.clone().oneshot(get("/b")).await.unwrap();
    assert_eq!(b.body(), "/b #1", "each path gets its own last answer");
    let c = svc.clone().oneshot(get("/c")).await.unwrap();
    assert_eq!(
        c.status(),
        StatusCode::SERVICE_UNAVAILABLE,
        "nothing kept for /c"
    );
    tokio::time::advance(Duration::from_secs(61)).await;
    let old = svc.oneshot(get("/a")).await.unwrap();
    assert_eq!(
        old.status(),
        StatusCode::SERVICE_UNAVAILABLE,
        "past its max age"
    );
}

#[tokio::test(start_paused = true)]
async fn without_a_key_no_caller_is_answered_with_another_callers_response() {
    let fallback = || {
        Fallback::<Response<String>, Error>::builder()
            .stale(Duration::from_secs(60))
            .value(status(200, "the default answer"))
            .build()
            .unwrap()
    };
    // Alice's request succeeds, then Bob's fails.
    let alice = Request::get("/me")
        .header("authorization", "alice")
        .body(())
        .unwrap();
    let bob = || {
        Request::get("/me")
            .header("authorization", "bob")
            .body(())
            .unwrap()
    };

    let unkeyed = FallbackLayer::new(fallback())
        .classifier(HttpStatus::new())
        .header(FALLBACK_HEADER)
        .layer(upstream(&[200, 503]));
    assert_eq!(
        unkeyed.clone().oneshot(alice).await.unwrap().body(),
        "/me #0"
    );
    let answer = unkeyed.oneshot(bob()).await.unwrap();
    assert_eq!(answer.body(), "the default answer", "not Alice's response");
    assert_eq!(answer.headers()[FALLBACK_HEADER], "value");

    // Opting in to one answer for everyone serves it.
    let shared = FallbackLayer::new(fallback())
        .classifier(HttpStatus::new())
        .shared_key()
        .header(FALLBACK_HEADER)
        .layer(upstream(&[200, 503]));
    shared
        .clone()
        .oneshot(Request::get("/prices").body(()).unwrap())
        .await
        .unwrap();
    let answer = shared.oneshot(bob()).await.unwrap();
    assert_eq!(answer.body(), "/prices #0");
    assert_eq!(answer.headers()[FALLBACK_HEADER], "stale");
}

#[tokio::test(start_paused = true)]
async fn a_request_the_key_gives_none_is_never_answered_with_another_callers_response() {
    let fallback = Fallback::<Response<String>, Error, HttpKeyOf>::builder()
        .stale(Duration::from_secs(60))
        .value(status(200, "the default answer"))
        .build()
        .unwrap();
    let svc = FallbackLayer::new(fallback)
        .classifier(HttpStatus::new())
        .key(HttpKey)
        .header(FALLBACK_HEADER)
        .layer(upstream(&[200, 503, 200, 503]));
    let post = |who: &str| {
        Request::post("/me")
            .header("authorization", who)
            .body(())
            .unwrap()
    };
    let get = || {
        Request::get("/me")
            .header("authorization", "alice")
            .body(())
            .unwrap()
    };
    // `HttpKey` gives a POST no key: Alice's answer is not Bob's.
    assert_eq!(
        svc.clone().oneshot(post("alice")).await.unwrap().body(),
        "/me #0"
    );
    let answer = svc.clone().oneshot(post("bob")).await.unwrap();
    assert_eq!(answer.body(), "the default answer", "not Alice's response");
    assert_eq!(answer.headers()[FALLBACK_HEADER], "value");
    // Identical GETs share a key, so a stale answer still serves them.
    assert_eq!(svc.clone().oneshot(get()).await.unwrap().body(), "/me #2");
    let answer = svc.oneshot(get()).await.unwrap();
    assert_eq!(answer.body(), "/me #2");
    assert_eq!(answer.headers()[FALLBACK_HEADER], "stale");
}

#[tokio::test(start_paused = true)]
async fn rejections_of_a_layer_below_are_answered_and_errors_of_the_upstream_are_not() {
    let fallback = Fallback::<u32, Error>::builder()
        .on_rejections()
        .value(0)
        .build()
        .unwrap();
    let bulkhead = Bulkhead::builder().max_concurrent(1).build().unwrap();
    let svc = ServiceBuilder::new()
        .layer(FallbackLayer::new(fallback))
        .layer(BulkheadLayer::new(bulkhead.clone()))
        .service(service_fn(|n: u32| async move {
            if n == 13 {
                return Err(std::io::Error::other("unlucky"));
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
            Ok(n)
        }));
    let held = bulkhead.try_acquire().unwrap();
    assert_eq!(
        svc.clone().oneshot(7).await.unwrap(),
        0,
        "shed by the full bulkhead: answered"
    );
    drop(held);
    assert_eq!(svc.clone().oneshot(7).await.unwrap(), 7);
    let err = svc.oneshot(13).await.unwrap_err();
    assert_eq!(
        err.kind(),
        ErrorKind::Inner,
        "the upstream's own failure goes through"
    );
}
