//! The behaviour every store must give the layer, written once and instantiated per store
//! by [`store_suite!`](crate::store_suite).
//!
//! Each function takes a fresh store. Those named `*_paused` drive time with
//! `pass_time` (tokio's paused clock for the memory store; real sleeps for a store with
//! its own clock, such as Redis, with short TTLs).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use http::header::{LOCATION, RETRY_AFTER, SET_COOKIE};
use http::{Method, Request, StatusCode};
use resilience_core::idempotency::IdempotencyStore;
use tower::ServiceExt;

use resilience_test_support::http::serve;

use crate::support::{
    Handlers, HttpClient, app, as_user, layer, post, principal_scope, problem_kind, replayed,
    request,
};

/// 100 concurrent requests with one key: the handler runs once; every answer is the
/// original, a byte-identical replay or a 409; later requests replay it byte for byte.
pub(crate) async fn concurrent_duplicates_run_the_handler_once<S: IdempotencyStore + 'static>(
    store: Arc<S>,
) {
    let handlers = Handlers::new();
    handlers.charge_delay_ms.store(300, Ordering::SeqCst);
    let addr = serve(app(layer(&store, |b| b), Arc::clone(&handlers))).await;
    let client = HttpClient::new(addr);

    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(
                async move { client.send(post("/charge", "k-100", "{\"cents\":5}")).await },
            )
        })
        .collect();
    let mut responses = Vec::new();
    for task in tasks {
        responses.push(task.await.expect("request task"));
    }

    assert_eq!(handlers.charges(), 1, "the handler ran more than once");
    let originals: Vec<_> = responses
        .iter()
        .filter(|r| r.status() == StatusCode::CREATED && !replayed(r))
        .collect();
    assert_eq!(
        originals.len(),
        1,
        "exactly one response comes from the handler"
    );
    let original = originals[0].body().clone();
    for response in &responses {
        match response.status() {
            StatusCode::CREATED => assert_eq!(response.body(), &original),
            StatusCode::CONFLICT => {
                assert_eq!(problem_kind(response), "idempotency_conflict");
                assert_eq!(response.headers()[RETRY_AFTER], "1");
            }
            other => panic!("unexpected status {other}"),
        }
    }
    for _ in 0..3 {
        let later = client.send(post("/charge", "k-100", "{\"cents\":5}")).await;
        assert_eq!(later.status(), StatusCode::CREATED);
        assert!(replayed(&later));
        assert_eq!(later.body(), &original, "replays are byte-identical");
    }
    assert_eq!(handlers.charges(), 1);
}

/// Two app instances over one store: a duplicate sent to the second replays the first's
/// response, with its status and every header (custom ones too), never `set-cookie`.
pub(crate) async fn instances_sharing_a_store_replay_each_other<S: IdempotencyStore + 'static>(
    store: Arc<S>,
) {
    let (first_handlers, second_handlers) = (Handlers::new(), Handlers::new());
    let first =
        HttpClient::new(serve(app(layer(&store, |b| b), Arc::clone(&first_handlers))).await);
    let second =
        HttpClient::new(serve(app(layer(&store, |b| b), Arc::clone(&second_handlers))).await);

    let original = first.send(post("/charge", "shared", "{}")).await;
    assert_eq!(original.status(), StatusCode::CREATED);
    assert_eq!(original.headers()[SET_COOKIE], "session=secret");

    let duplicate = second.send(post("/charge", "shared", "{}")).await;
    assert_eq!(duplicate.status(), StatusCode::CREATED);
    assert!(replayed(&duplicate));
    assert_eq!(duplicate.body(), original.body());
    assert_eq!(duplicate.headers()[LOCATION], original.headers()[LOCATION]);
    assert_eq!(duplicate.headers()["content-type"], "application/json");
    assert!(
        duplicate.headers().get(SET_COOKIE).is_none(),
        "set-cookie replayed"
    );
    assert_eq!(
        duplicate.headers()["x-trace"],
        "abc",
        "a custom header is replayed"
    );
    assert_eq!(first_handlers.charges(), 1);
    assert_eq!(second_handlers.charges(), 0);
}

/// The same key with another body, path or method-protected route: 422, handler not run.
pub(crate) async fn same_key_with_a_different_request_is_422<S: IdempotencyStore + 'static>(
    store: Arc<S>,
) {
    let handlers = Handlers::new();
    let client = HttpClient::new(serve(app(layer(&store, |b| b), Arc::clone(&handlers))).await);
    assert_eq!(
        client
            .send(post("/charge", "reused", "{\"cents\":5}"))
            .await
            .status(),
        StatusCode::CREATED
    );
    for different in [
        post("/charge", "reused", "{\"cents\":6}"),
        post("/charge?currency=eur", "reused", "{\"cents\":5}"),
        post("/flaky", "reused", "{\"cents\":5}"),
    ] {
        let response = client.send(different).await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(problem_kind(&response), "idempotency_mismatch");
    }
    assert_eq!(handlers.charges(), 1);
    assert_eq!(handlers.flaky.load(Ordering::SeqCst), 0);
}

/// A 5xx is not stored: the key is released and the retry runs the handler again, and
/// its success is what later duplicates replay.
pub(crate) async fn server_errors_are_not_stored<S: IdempotencyStore + 'static>(store: Arc<S>) {
    let handlers = Handlers::new();
    let client = HttpClient::new(serve(app(layer(&store, |b| b), Arc::clone(&handlers))).await);
    let failed = client.send(post("/flaky", "retry-me", "")).await;
    assert_eq!(failed.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(!replayed(&failed));
    let retried = client.send(post("/flaky", "retry-me", "")).await;
    assert_eq!(retried.status(), StatusCode::CREATED);
    assert!(!replayed(&retried), "the retry ran the handler");
    let again = client.send(post("/flaky", "retry-me", "")).await;
    assert_eq!(again.status(), StatusCode::CREATED);
    assert!(replayed(&again));
    assert_eq!(handlers.flaky.load(Ordering::SeqCst), 2);
}

/// One key used by two principals: each gets its own result; neither sees the other's.
pub(crate) async fn scopes_keep_principals_apart<S: IdempotencyStore + 'static>(store: Arc<S>) {
    let handlers = Handlers::new();
    let layer = layer(&store, |b| b.scope(principal_scope));
    let client = HttpClient::new(serve(app(layer, Arc::clone(&handlers))).await);

    let alice = client
        .send(as_user(post("/charge", "k", "{}"), "alice"))
        .await;
    let bob = client
        .send(as_user(post("/charge", "k", "{}"), "bob"))
        .await;
    assert_eq!(bob.status(), StatusCode::CREATED);
    assert!(!replayed(&bob), "bob received alice's response");
    assert_ne!(alice.body(), bob.body());
    let anonymous = client.send(post("/charge", "k", "{}")).await;
    assert!(!replayed(&anonymous));
    assert_eq!(handlers.charges(), 3);

    let alice_again = client
        .send(as_user(post("/charge", "k", "{}"), "alice"))
        .await;
    assert!(replayed(&alice_again));
    assert_eq!(alice_again.body(), alice.body());
    assert_eq!(handlers.charges(), 3);
}

/// A response body over `max_response_body` is sent whole but not stored.
pub(crate) async fn oversized_responses_pass_through_unstored<S: IdempotencyStore + 'static>(
    store: Arc<S>,
) {
    let handlers = Handlers::new();
    let layer = layer(&store, |b| b.max_response_body(1024));
    let client = HttpClient::new(serve(app(layer, Arc::clone(&handlers))).await);
    for _ in 0..2 {
        let response = client.send(post("/big?len=100000", "big", "")).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.body().len(), 100_000);
        assert!(!replayed(&response));
    }
    assert_eq!(handlers.big.load(Ordering::SeqCst), 2);
    let small = client.send(post("/big?len=1000", "small", "")).await;
    assert_eq!(small.body().len(), 1000);
    let small = client.send(post("/big?len=1000", "small", "")).await;
    assert!(replayed(&small));
    assert_eq!(small.body().len(), 1000);
}

/// A stored response is replayed until the record TTL passes; then the key runs anew.
/// `pass_time` advances the store's clock by at least the given duration.
pub(crate) async fn records_expire_after_the_record_ttl_paused<S, F>(
    store: Arc<S>,
    record_ttl: Duration,
    pass_time: impl Fn(Duration) -> F,
) where
    S: IdempotencyStore + 'static,
    F: Future<Output = ()>,
{
    let handlers = Handlers::new();
    let app = app(
        layer(&store, |b| b.record_ttl(record_ttl)),
        Arc::clone(&handlers),
    );
    let send = || {
        let request: Request<axum::body::Body> = post("/charge", "ttl", "{}").map(Into::into);
        app.clone().oneshot(request)
    };
    assert!(!is_replay(&send().await.expect("infallible")));
    pass_time(record_ttl / 2).await;
    assert!(is_replay(&send().await.expect("infallible")));
    pass_time(record_ttl).await;
    assert!(
        !is_replay(&send().await.expect("infallible")),
        "expired record replayed"
    );
    assert_eq!(handlers.charges(), 2);
}

fn is_replay<B>(response: &http::Response<B>) -> bool {
    response.headers().contains_key("idempotent-replayed")
}

/// Methods the layer does not protect pass through untouched, key or not.
pub(crate) async fn unprotected_methods_pass_through<S: IdempotencyStore + 'static>(store: Arc<S>) {
    let handlers = Handlers::new();
    let client = HttpClient::new(serve(app(layer(&store, |b| b), Arc::clone(&handlers))).await);
    for key in [Some(&b"same"[..]), Some(&b""[..]), None] {
        let response = client.send(request(Method::GET, "/charge", key, "")).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.body().as_ref(), b"read");
        assert!(!replayed(&response));
    }
    assert_eq!(handlers.reads.load(Ordering::SeqCst), 3);
}

/// Malformed keys are refused with 400 before anything runs: empty, 256 characters,
/// control or space characters, non-ASCII, repeated. 255 characters and the quoted
/// structured-field form are accepted.
pub(crate) async fn malformed_keys_are_400<S: IdempotencyStore + 'static>(store: Arc<S>) {
    let handlers = Handlers::new();
    let client = HttpClient::new(serve(app(layer(&store, |b| b), Arc::clone(&handlers))).await);
    let long = vec![b'k'; 256];
    for bad in [
        &b""[..],
        &long,
        b"tab\there",
        b"with space",
        "ключ".as_bytes(),
        b"\"\"",
    ] {
        let response = client
            .send(request(Method::POST, "/charge", Some(bad), ""))
            .await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "key {bad:?}");
        assert_eq!(problem_kind(&response), "invalid_request");
    }
    let mut repeated = post("/charge", "one", "");
    repeated
        .headers_mut()
        .append("idempotency-key", http::HeaderValue::from_static("two"));
    assert_eq!(
        client.send(repeated).await.status(),
        StatusCode::BAD_REQUEST
    );
    assert_eq!(handlers.charges(), 0);

    let longest = "k".repeat(255);
    assert_eq!(
        client.send(post("/charge", &longest, "")).await.status(),
        StatusCode::CREATED
    );
    let quoted = client.send(post("/charge", "\"q-1\"", "")).await;
    assert_eq!(quoted.status(), StatusCode::CREATED);
    let bare = client.send(post("/charge", "q-1", "")).await;
    assert!(replayed(&bare), "the quoted and bare forms are one key");
    assert_eq!(handlers.charges(), 2);
}

/// With `require_key(true)` a protected method without a key is 400; without it (the
/// default) such a request runs unprotected.
pub(crate) async fn missing_keys_are_400_only_when_required<S: IdempotencyStore + 'static>(
    store: Arc<S>,
) {
    let handlers = Handlers::new();
    let strict = HttpClient::new(
        serve(app(
            layer(&store, |b| b.require_key(true)),
            Arc::clone(&handlers),
        ))
        .await,
    );
    let response = strict
        .send(request(Method::POST, "/charge", None, "{}"))
        .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(problem_kind(&response), "invalid_request");
    assert_eq!(handlers.charges(), 0);

    let lenient = HttpClient::new(serve(app(layer(&store, |b| b), Arc::clone(&handlers))).await);
    for _ in 0..2 {
        let response = lenient
            .send(request(Method::POST, "/charge", None, "{}"))
            .await;
        assert_eq!(response.status(), StatusCode::CREATED);
        assert!(!replayed(&response));
    }
    assert_eq!(handlers.charges(), 2);
}

/// A request body over `max_request_body` is 413; the handler does not run and the key
/// stays free.
pub(crate) async fn oversized_requests_are_413_and_not_run<S: IdempotencyStore + 'static>(
    store: Arc<S>,
) {
    let handlers = Handlers::new();
    let layer = layer(&store, |b| b.max_request_body(16));
    let client = HttpClient::new(serve(app(layer, Arc::clone(&handlers))).await);
    let response = client
        .send(post("/charge", "fat", "{\"cents\":5,\"note\":\"long\"}"))
        .await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(problem_kind(&response), "payload_too_large");
    assert_eq!(handlers.charges(), 0);
    let fits = client.send(post("/charge", "fat", "{\"cents\":5}")).await;
    assert_eq!(fits.status(), StatusCode::CREATED);
    assert!(!replayed(&fits));
    assert_eq!(handlers.charges(), 1);
}
