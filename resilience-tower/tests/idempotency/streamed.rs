//! Responses whose body arrives in parts, driven through a channel: bodies over the cap
//! or with trailers, and requests dropped (the client went away) after the handler
//! answered, when the handler's work is done and the layer must finish what it started
//! (store the response, or release the key) rather than leave the key to a second run or
//! to the lock TTL.

use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body::{Body, Frame};
use http_body_util::{BodyExt, Full};
use resilience_core::idempotency::{
    BoxFuture, Claim, Commit, Fingerprint, IdempotencyStore, Lease, MemoryStore, Record,
};
use resilience_core::{BoxError, Error, ErrorKind};
use resilience_tower::body::PrefixedBody;
use resilience_tower::idempotency::IdempotencyLayer;
use tokio::sync::Notify;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};
use tower::{Layer, Service, ServiceExt, service_fn};

/// A response body fed through a channel: it ends when the sender is dropped.
#[derive(Debug)]
struct Trickle(UnboundedReceiver<Frame<Bytes>>);

impl Body for Trickle {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        self.0.poll_recv(cx).map(|frame| frame.map(Ok))
    }
}

/// The handler: counts its runs and answers `status` with the body `run N:`, then
/// whatever is sent through `open` (the first run only; later bodies end at once).
#[derive(Default)]
struct Handler {
    runs: AtomicUsize,
    started: Notify,
    open: Mutex<Option<UnboundedSender<Frame<Bytes>>>>,
}

/// A memory store whose `complete` and `release` take `delay` (a slow network store),
/// announcing each call on `entered`.
struct SlowStore {
    inner: MemoryStore,
    delay: Duration,
    entered: Notify,
}

impl IdempotencyStore for SlowStore {
    fn claim<'a>(
        &'a self,
        key: &'a str,
        fingerprint: &'a Fingerprint,
        lock_ttl: Duration,
    ) -> BoxFuture<'a, Result<Claim, Error>> {
        self.inner.claim(key, fingerprint, lock_ttl)
    }

    fn complete(
        &self,
        lease: Lease,
        record: Record,
        ttl: Duration,
    ) -> BoxFuture<'_, Result<Commit, Error>> {
        Box::pin(async move {
            self.entered.notify_waiters();
            tokio::time::sleep(self.delay).await;
            self.inner.complete(lease, record, ttl).await
        })
    }

    fn release(&self, lease: Lease) -> BoxFuture<'_, Result<Commit, Error>> {
        Box::pin(async move {
            self.entered.notify_waiters();
            tokio::time::sleep(self.delay).await;
            self.inner.release(lease).await
        })
    }
}

type Answer = Result<Response<PrefixedBody<Trickle>>, Error>;

/// The layered service under test.
trait Svc:
    Service<
        Request<Full<Bytes>>,
        Response = Response<PrefixedBody<Trickle>>,
        Error = Error,
        Future: Send + 'static,
    > + Clone
    + Send
    + 'static
{
}

impl<S> Svc for S where
    S: Service<
            Request<Full<Bytes>>,
            Response = Response<PrefixedBody<Trickle>>,
            Error = Error,
            Future: Send + 'static,
        > + Clone
        + Send
        + 'static
{
}

fn service<St: IdempotencyStore + 'static>(
    layer: IdempotencyLayer<St>,
    status: StatusCode,
) -> (impl Svc, Arc<Handler>) {
    let handler = Arc::new(Handler::default());
    let state = Arc::clone(&handler);
    let inner = service_fn(move |_: Request<Full<Bytes>>| {
        let state = Arc::clone(&state);
        async move {
            let run = state.runs.fetch_add(1, Ordering::SeqCst) + 1;
            let (tx, rx) = unbounded_channel();
            tx.send(Frame::data(Bytes::from(format!("run {run}:"))))
                .expect("receiver alive");
            if run == 1 {
                *state.open.lock().expect("lock") = Some(tx);
            }
            state.started.notify_waiters();
            let mut response = Response::new(Trickle(rx));
            *response.status_mut() = status;
            Ok::<_, BoxError>(response)
        }
    });
    (layer.layer(inner), handler)
}

fn post() -> Request<Full<Bytes>> {
    Request::post("/pay")
        .header("idempotency-key", "k")
        .body(Full::new(Bytes::from_static(b"{}")))
        .expect("valid request")
}

async fn body(response: Response<PrefixedBody<Trickle>>) -> Bytes {
    response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes()
}

/// Retries (half a second apart) while the key is in flight; the first other answer.
async fn retry<S: Svc>(svc: &S) -> Answer {
    for _ in 0..10 {
        match svc.clone().oneshot(post()).await {
            Err(err) if err.kind() == ErrorKind::IdempotencyConflict => {
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            other => return other,
        }
    }
    panic!("the key stayed in flight: its lease leaked until the lock TTL");
}

#[tokio::test(start_paused = true)]
async fn a_request_dropped_while_its_response_body_streams_is_still_stored() {
    let (svc, handler) = service(
        IdempotencyLayer::unscoped(MemoryStore::new()),
        StatusCode::CREATED,
    );
    let started = handler.started.notified();
    let first = tokio::spawn(svc.clone().oneshot(post()));
    started.await;
    tokio::task::yield_now().await; // the layer reads the first chunk and waits for more
    first.abort();
    assert!(first.await.expect_err("aborted").is_cancelled());

    // The handler has answered: its side effects happened. The rest of the body arrives.
    let open = handler
        .open
        .lock()
        .expect("lock")
        .take()
        .expect("first run");
    let _ = open.send(Frame::data(Bytes::from_static(b"tail"))); // fails if the layer dropped the body
    drop(open);

    let response = retry(&svc).await.expect("replayed");
    assert_eq!(response.headers()["idempotent-replayed"], "true");
    assert_eq!(body(response).await, "run 1:tail");
    assert_eq!(
        handler.runs.load(Ordering::SeqCst),
        1,
        "the handler ran twice"
    );
}

#[tokio::test(start_paused = true)]
async fn a_request_dropped_while_its_response_is_being_stored_is_still_stored() {
    let store = Arc::new(SlowStore {
        inner: MemoryStore::new(),
        delay: Duration::from_secs(1),
        entered: Notify::new(),
    });
    let (svc, handler) = service(
        IdempotencyLayer::unscoped(Arc::clone(&store)),
        StatusCode::CREATED,
    );
    let completing = store.entered.notified();
    let first = tokio::spawn(svc.clone().oneshot(post()));
    // The handler's body ends at once (its sender is dropped when the first run ends).
    handler.started.notified().await;
    drop(handler.open.lock().expect("lock").take());
    completing.await;
    first.abort();
    assert!(first.await.expect_err("aborted").is_cancelled());

    let response = retry(&svc).await.expect("replayed");
    assert_eq!(response.headers()["idempotent-replayed"], "true");
    assert_eq!(body(response).await, "run 1:");
    assert_eq!(handler.runs.load(Ordering::SeqCst), 1);
}

#[tokio::test(start_paused = true)]
async fn a_request_dropped_while_releasing_its_key_still_releases_it() {
    let store = Arc::new(SlowStore {
        inner: MemoryStore::new(),
        delay: Duration::from_secs(1),
        entered: Notify::new(),
    });
    let (svc, handler) = service(
        IdempotencyLayer::unscoped(Arc::clone(&store)),
        StatusCode::SERVICE_UNAVAILABLE,
    );
    let releasing = store.entered.notified();
    let first = tokio::spawn(svc.clone().oneshot(post()));
    releasing.await;
    first.abort();
    assert!(first.await.expect_err("aborted").is_cancelled());

    let response = retry(&svc).await.expect("the retry runs");
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(!response.headers().contains_key("idempotent-replayed"));
    assert_eq!(handler.runs.load(Ordering::SeqCst), 2);
}

/// Sends `frames` through the first run's body, then ends it.
fn finish_first_body(handler: &Handler, frames: impl IntoIterator<Item = Frame<Bytes>>) {
    let open = handler
        .open
        .lock()
        .expect("lock")
        .take()
        .expect("first run");
    for frame in frames {
        open.send(frame).expect("body read");
    }
}

#[tokio::test]
async fn a_streamed_body_over_the_cap_is_sent_whole_and_not_stored() {
    let layer = IdempotencyLayer::builder(MemoryStore::new())
        .unscoped()
        .max_response_body(8)
        .build()
        .expect("config");
    let (svc, handler) = service(layer, StatusCode::CREATED);
    let started = handler.started.notified();
    let first = tokio::spawn(svc.clone().oneshot(post()));
    started.await;
    finish_first_body(&handler, [Frame::data(Bytes::from_static(b"0123456789"))]);
    let response = first.await.expect("task").expect("answered");
    assert_eq!(body(response).await, "run 1:0123456789");

    let retry = svc.clone().oneshot(post()).await.expect("runs again");
    assert!(!retry.headers().contains_key("idempotent-replayed"));
    assert_eq!(body(retry).await, "run 2:");
    assert_eq!(handler.runs.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_body_with_trailers_is_sent_with_them_and_not_stored() {
    let (svc, handler) = service(
        IdempotencyLayer::unscoped(MemoryStore::new()),
        StatusCode::OK,
    );
    let started = handler.started.notified();
    let first = tokio::spawn(svc.clone().oneshot(post()));
    started.await;
    let mut trailers = http::HeaderMap::new();
    trailers.insert("x-checksum", http::HeaderValue::from_static("abc"));
    finish_first_body(&handler, [Frame::trailers(trailers)]);
    let response = first.await.expect("task").expect("answered");
    let collected = response.into_body().collect().await.expect("body");
    assert_eq!(collected.trailers().expect("trailers")["x-checksum"], "abc");
    assert_eq!(collected.to_bytes(), "run 1:");

    let retry = svc.clone().oneshot(post()).await.expect("runs again");
    assert!(!retry.headers().contains_key("idempotent-replayed"));
    assert_eq!(handler.runs.load(Ordering::SeqCst), 2);
}
