//! Behaviour that does not depend on the store: store failures, cancellation, lease
//! expiry, inner errors, metrics. These drive the service directly (no network), so
//! time can be paused.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use resilience_core::idempotency::{
    BoxFuture, Claim, Commit, Fingerprint, IdempotencyStore, Lease, MemoryStore, Record,
};
use resilience_core::telemetry::{label, metric, outcome};
use resilience_core::{BoxError, Error, ErrorKind, Primitive};
use resilience_tower::body::PrefixedBody;
use resilience_tower::idempotency::{IdempotencyLayer, IdempotencyLayerBuilder};
use tokio::sync::Notify;
use tower::{Layer, Service, ServiceExt, service_fn};

/// A store whose backend is down.
struct DownStore;

fn down() -> Error {
    Error::new(ErrorKind::StoreUnavailable).with_detail("the store is down")
}

impl IdempotencyStore for DownStore {
    fn claim<'a>(
        &'a self,
        _: &'a str,
        _: &'a Fingerprint,
        _: Duration,
    ) -> BoxFuture<'a, Result<Claim, Error>> {
        Box::pin(async { Err(down()) })
    }

    fn complete(&self, _: Lease, _: Record, _: Duration) -> BoxFuture<'_, Result<Commit, Error>> {
        Box::pin(async { Err(down()) })
    }

    fn release(&self, _: Lease) -> BoxFuture<'_, Result<Commit, Error>> {
        Box::pin(async { Err(down()) })
    }
}

type Answer = Result<Response<PrefixedBody<Full<Bytes>>>, Error>;

/// The layered service under test.
trait Svc:
    Service<
        Request<Full<Bytes>>,
        Response = Response<PrefixedBody<Full<Bytes>>>,
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
            Response = Response<PrefixedBody<Full<Bytes>>>,
            Error = Error,
            Future: Send + 'static,
        > + Clone
        + Send
        + 'static
{
}

/// What the handler does: counts its runs, then behaves as `behave` says.
#[derive(Clone, Copy)]
enum Behave {
    Answer,
    Sleep(Duration),
    Hang,
    FailFirst,
}

#[derive(Default)]
struct Handler {
    runs: AtomicUsize,
    started: Notify,
}

/// The layer around a handler; returns the service and the handler's state.
fn service<St: IdempotencyStore + 'static>(
    layer: IdempotencyLayer<St>,
    behave: Behave,
) -> (impl Svc, Arc<Handler>) {
    let handler = Arc::new(Handler::default());
    let state = Arc::clone(&handler);
    let inner = service_fn(move |_: Request<Full<Bytes>>| {
        let state = Arc::clone(&state);
        async move {
            let run = state.runs.fetch_add(1, Ordering::SeqCst) + 1;
            state.started.notify_waiters();
            match behave {
                Behave::Answer => {}
                Behave::Sleep(d) => tokio::time::sleep(d).await,
                Behave::Hang => std::future::pending::<()>().await,
                Behave::FailFirst if run == 1 => return Err(BoxError::from("handler failed")),
                Behave::FailFirst => {}
            }
            Ok::<_, BoxError>(Response::new(Full::new(Bytes::from(format!("run {run}")))))
        }
    });
    (layer.layer(inner), handler)
}

fn post(key: &str) -> Request<Full<Bytes>> {
    Request::post("/pay")
        .header("idempotency-key", key)
        .body(Full::new(Bytes::from_static(b"{}")))
        .expect("valid request")
}

fn call<S: Svc>(
    svc: &S,
    request: Request<Full<Bytes>>,
) -> impl Future<Output = Answer> + Send + 'static {
    svc.clone().oneshot(request)
}

async fn body(response: Response<PrefixedBody<Full<Bytes>>>) -> Bytes {
    response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes()
}

fn builder<St: IdempotencyStore>(store: St) -> IdempotencyLayerBuilder<St> {
    IdempotencyLayer::builder(store).name("payments").unscoped()
}

#[tokio::test]
async fn store_down_fails_closed_with_503_kind_and_the_handler_not_run() {
    let (svc, handler) = service(builder(DownStore).build().expect("config"), Behave::Answer);
    let err = call(&svc, post("k")).await.expect_err("fails closed");
    assert_eq!(err.kind(), ErrorKind::StoreUnavailable);
    assert_eq!(err.primitive(), Some(Primitive::Idempotency));
    assert_eq!(err.instance(), Some("payments"));
    assert_eq!(
        resilience_tower::http::ProblemConfig::new().status(&err),
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(handler.runs.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn store_down_fails_open_when_configured_and_runs_the_handler_every_time() {
    let layer = builder(DownStore).fail_open(true).build().expect("config");
    let (svc, handler) = service(layer, Behave::Answer);
    for run in 1..=2 {
        let response = call(&svc, post("k")).await.expect("runs unprotected");
        assert_eq!(body(response).await, format!("run {run}"));
    }
    assert_eq!(handler.runs.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn inner_errors_are_not_stored_and_the_retry_runs() {
    let layer = builder(MemoryStore::new()).build().expect("config");
    let (svc, handler) = service(layer, Behave::FailFirst);
    let err = call(&svc, post("k")).await.expect_err("inner error");
    assert_eq!(err.kind(), ErrorKind::Inner);
    let response = call(&svc, post("k")).await.expect("retry runs");
    assert_eq!(body(response).await, "run 2");
    assert_eq!(handler.runs.load(Ordering::SeqCst), 2);
}

#[tokio::test(start_paused = true)]
async fn a_cancelled_request_releases_its_key_so_the_retry_runs() {
    let layer = builder(MemoryStore::new()).build().expect("config");
    let (svc, handler) = service(layer, Behave::Hang);
    let started = handler.started.notified();
    let first = tokio::spawn(call(&svc, post("k")));
    started.await;
    let err = call(&svc, post("k")).await.expect_err("in flight");
    assert_eq!(err.kind(), ErrorKind::IdempotencyConflict);
    assert_eq!(err.retry_after(), Some(Duration::from_secs(1)));

    first.abort();
    assert!(first.await.expect_err("aborted").is_cancelled());
    tokio::task::yield_now().await; // the spawned release runs
    let started = handler.started.notified();
    let retry = tokio::spawn(call(&svc, post("k")));
    started.await;
    assert_eq!(
        handler.runs.load(Ordering::SeqCst),
        2,
        "the retry ran the handler"
    );
    retry.abort();
}

#[tokio::test(start_paused = true)]
async fn without_release_on_cancel_a_cancelled_key_waits_for_the_lock_ttl() {
    let layer = builder(MemoryStore::new())
        .release_on_cancel(false)
        .lock_ttl(Duration::from_secs(30))
        .build()
        .expect("config");
    let (svc, handler) = service(layer, Behave::Hang);
    let started = handler.started.notified();
    let first = tokio::spawn(call(&svc, post("k")));
    started.await;
    first.abort();
    let _ = first.await;
    tokio::task::yield_now().await;
    let err = call(&svc, post("k")).await.expect_err("still locked");
    assert_eq!(err.kind(), ErrorKind::IdempotencyConflict);

    tokio::time::advance(Duration::from_secs(31)).await;
    let started = handler.started.notified();
    let retry = tokio::spawn(call(&svc, post("k")));
    started.await;
    assert_eq!(handler.runs.load(Ordering::SeqCst), 2);
    retry.abort();
}

#[tokio::test(start_paused = true)]
async fn a_handler_that_outlives_its_lease_is_answered_but_not_stored() {
    let layer = builder(MemoryStore::new())
        .lock_ttl(Duration::from_secs(1))
        .build()
        .expect("config");
    let (svc, handler) = service(layer, Behave::Sleep(Duration::from_secs(2)));
    let response = call(&svc, post("k")).await.expect("answered");
    assert_eq!(body(response).await, "run 1");
    let response = call(&svc, post("k")).await.expect("runs again");
    assert!(!response.headers().contains_key("idempotent-replayed"));
    assert_eq!(handler.runs.load(Ordering::SeqCst), 2);
}

type Snapshot = Vec<(
    metrics_util::CompositeKey,
    Option<metrics::Unit>,
    Option<metrics::SharedString>,
    DebugValue,
)>;

/// The counter for `name` and `outcome` in `snapshot` (snapshots reset counters, so take
/// one and read it several times).
fn count(snapshot: &Snapshot, name: &str, wanted: &str) -> u64 {
    snapshot
        .iter()
        .filter(|(key, ..)| key.key().name() == metric::IDEMPOTENCY_REQUESTS_TOTAL)
        .filter(|(key, ..)| {
            let labels: Vec<_> = key.key().labels().map(|l| (l.key(), l.value())).collect();
            labels.contains(&(label::NAME, name)) && labels.contains(&(label::OUTCOME, wanted))
        })
        .map(|(.., value)| match value {
            DebugValue::Counter(n) => *n,
            other => panic!("not a counter: {other:?}"),
        })
        .sum()
}

#[test]
fn requests_are_counted_by_outcome() {
    let recorder = DebuggingRecorder::new();
    metrics::with_local_recorder(&recorder, || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("runtime");
        runtime.block_on(async {
            let layer = builder(MemoryStore::new()).build().expect("config");
            let (svc, handler) = service(layer, Behave::Sleep(Duration::from_millis(50)));
            call(&svc, post("a")).await.expect("new");
            call(&svc, post("a")).await.expect("replayed");
            let mut other = post("a");
            *other.uri_mut() = "/other".parse().expect("uri");
            call(&svc, other).await.expect_err("mismatch");
            call(&svc, post("")).await.expect_err("invalid");
            let started = handler.started.notified();
            let slow = tokio::spawn(call(&svc, post("b")));
            started.await;
            call(&svc, post("b")).await.expect_err("conflict");
            slow.await.expect("task").expect("new");

            let down = builder(DownStore).name("down").build().expect("config");
            let (svc, _) = service(down, Behave::Answer);
            call(&svc, post("c")).await.expect_err("store error");
        });
    });
    let snapshot = recorder.snapshotter().snapshot().into_vec();
    for (wanted, n) in [
        (outcome::NEW, 2),
        (outcome::REPLAYED, 1),
        (outcome::MISMATCH, 1),
        (outcome::INVALID, 1),
        (outcome::CONFLICT, 1),
        (outcome::STORE_ERROR, 0),
    ] {
        assert_eq!(count(&snapshot, "payments", wanted), n, "{wanted}");
    }
    assert_eq!(count(&snapshot, "down", outcome::STORE_ERROR), 1);
}

#[tokio::test]
async fn layer_is_usable_behind_a_shared_dyn_store() {
    let store: Arc<dyn IdempotencyStore> = Arc::new(MemoryStore::new());
    let (svc, handler) = service(IdempotencyLayer::unscoped(store), Behave::Answer);
    call(&svc, post("k")).await.expect("new");
    let replay = call(&svc, post("k")).await.expect("replay");
    assert_eq!(replay.headers()["idempotent-replayed"], "true");
    assert_eq!(handler.runs.load(Ordering::SeqCst), 1);
}

/// A store that answers every claim with a record no HTTP status can hold.
struct CorruptStore;

impl IdempotencyStore for CorruptStore {
    fn claim<'a>(
        &'a self,
        _: &'a str,
        _: &'a Fingerprint,
        _: Duration,
    ) -> BoxFuture<'a, Result<Claim, Error>> {
        Box::pin(async {
            Ok(Claim::Completed(Record::new(
                1000,
                Vec::new(),
                Bytes::new(),
            )))
        })
    }

    fn complete(&self, _: Lease, _: Record, _: Duration) -> BoxFuture<'_, Result<Commit, Error>> {
        Box::pin(async { Ok(Commit::Done) })
    }

    fn release(&self, _: Lease) -> BoxFuture<'_, Result<Commit, Error>> {
        Box::pin(async { Ok(Commit::Done) })
    }
}

#[test]
fn an_unreadable_stored_record_is_a_store_error_not_a_replay() {
    let recorder = DebuggingRecorder::new();
    metrics::with_local_recorder(&recorder, || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        runtime.block_on(async {
            let (svc, handler) = service(
                builder(CorruptStore).build().expect("config"),
                Behave::Answer,
            );
            let err = call(&svc, post("k")).await.expect_err("unreadable");
            assert_eq!(err.kind(), ErrorKind::StoreUnavailable);
            assert_eq!(handler.runs.load(Ordering::SeqCst), 0);
        });
    });
    let snapshot = recorder.snapshotter().snapshot().into_vec();
    assert_eq!(count(&snapshot, "payments", outcome::STORE_ERROR), 1);
    assert_eq!(count(&snapshot, "payments", outcome::REPLAYED), 0);
}

/// `IdempotencyLayer::new` takes the scope: a second client sending the first one's key
/// and body runs the handler itself, and with another body is not told the key exists.
#[tokio::test]
async fn new_keeps_each_clients_keys_apart_by_its_scope() {
    let layer = IdempotencyLayer::new(MemoryStore::new(), |req: &http::request::Parts| {
        req.headers.get("x-user").map(|v| v.as_bytes().to_vec())
    });
    let (svc, handler) = service(layer, Behave::Answer);
    let as_user = |user: &str, body: &'static str| {
        let mut req = post("k");
        req.headers_mut().insert("x-user", user.parse().unwrap());
        *req.body_mut() = Full::new(Bytes::from_static(body.as_bytes()));
        req
    };
    let alice = call(&svc, as_user("alice", "{}")).await.expect("alice");
    let bob = call(&svc, as_user("bob", "{}")).await.expect("bob");
    assert!(!bob.headers().contains_key("idempotent-replayed"));
    assert_ne!(
        body(alice).await,
        body(bob).await,
        "bob got alice's response"
    );
    let other_body = call(&svc, as_user("carol", "{\"x\":1}")).await;
    assert_eq!(other_body.expect("not a 422").status(), StatusCode::OK);
    assert_eq!(handler.runs.load(Ordering::SeqCst), 3);
}

/// A replay has every header the response had (custom ones, repeated ones), except the
/// deny-list: `set-cookie`, hop-by-hop headers, `content-length`, `date`.
#[tokio::test]
async fn a_replay_returns_every_header_but_the_deny_list() {
    let inner = service_fn(|_: Request<Full<Bytes>>| async {
        let response = Response::builder()
            .status(StatusCode::CREATED)
            .header("x-request-cost", "7")
            .header("link", "</a>; rel=a")
            .header("link", "</b>; rel=b")
            .header("set-cookie", "session=secret")
            .header("connection", "close")
            .header("date", "Mon, 30 Nov 2026 23:00:00 GMT")
            .body(Full::new(Bytes::from_static(b"created")))
            .expect("valid response");
        Ok::<_, BoxError>(response)
    });
    let svc = IdempotencyLayer::unscoped(MemoryStore::new()).layer(inner);
    call(&svc, post("k")).await.expect("first");
    let replay = call(&svc, post("k")).await.expect("replay");
    let headers = replay.headers();
    assert_eq!(headers["idempotent-replayed"], "true");
    assert_eq!(headers["x-request-cost"], "7");
    let links: Vec<_> = headers.get_all("link").iter().collect();
    assert_eq!(links, ["</a>; rel=a", "</b>; rel=b"]);
    for unstored in ["set-cookie", "connection", "date"] {
        assert!(!headers.contains_key(unstored), "{unstored} replayed");
    }
    // An allow-list instead: only what it names.
    let layer = IdempotencyLayer::builder(MemoryStore::new())
        .unscoped()
        .stored_headers([http::header::LINK])
        .build()
        .expect("config");
    let svc = layer.layer(inner);
    call(&svc, post("k")).await.expect("first");
    let replay = call(&svc, post("k")).await.expect("replay");
    assert_eq!(replay.headers().get_all("link").iter().count(), 2);
    assert!(!replay.headers().contains_key("x-request-cost"));
}

/// A request body of `chunks` frames, each ready at once, then (if `stall`) never
/// ending.
struct Trickle {
    chunks: usize,
    stall: bool,
}

impl http_body::Body for Trickle {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
        use std::task::Poll;
        match self.chunks {
            0 if self.stall => Poll::Pending,
            0 => Poll::Ready(None),
            _ => {
                self.chunks -= 1;
                Poll::Ready(Some(Ok(http_body::Frame::data(Bytes::from_static(b"x")))))
            }
        }
    }
}

impl From<Bytes> for Trickle {
    fn from(_: Bytes) -> Self {
        Trickle {
            chunks: 0,
            stall: false,
        }
    }
}

/// The layered service over [`Trickle`] bodies.
trait TrickleSvc:
    Service<Request<Trickle>, Response = Response<PrefixedBody<Full<Bytes>>>, Error = Error>
{
}

impl<S> TrickleSvc for S where
    S: Service<Request<Trickle>, Response = Response<PrefixedBody<Full<Bytes>>>, Error = Error>
{
}

fn trickle_service(layer: IdempotencyLayer<MemoryStore>) -> (impl TrickleSvc, Arc<AtomicUsize>) {
    let runs = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&runs);
    let inner = service_fn(move |_: Request<Trickle>| {
        counted.fetch_add(1, Ordering::SeqCst);
        async { Ok::<_, BoxError>(Response::new(Full::new(Bytes::from_static(b"ok")))) }
    });
    (layer.layer(inner), runs)
}

/// A client that sends part of its body and stalls is answered 400 once
/// `request_body_timeout` passes, without the handler running or the key being claimed.
#[tokio::test(start_paused = true)]
async fn a_request_body_that_stalls_is_refused_after_the_body_timeout() {
    let layer = IdempotencyLayer::builder(MemoryStore::new())
        .unscoped()
        .request_body_timeout(Duration::from_secs(5))
        .build()
        .expect("config");
    let (mut svc, runs) = trickle_service(layer);
    let started = tokio::time::Instant::now();
    let stalled = Request::post("/pay")
        .header("idempotency-key", "k")
        .body(Trickle {
            chunks: 3,
            stall: true,
        })
        .unwrap();
    let err = svc.ready().await.unwrap().call(stalled).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidRequest);
    assert_eq!(started.elapsed(), Duration::from_secs(5));
    assert_eq!(runs.load(Ordering::SeqCst), 0);
    // The key was never claimed: the complete request runs.
    let whole = Request::post("/pay")
        .header("idempotency-key", "k")
        .body(Trickle {
            chunks: 3,
            stall: false,
        })
        .unwrap();
    assert!(svc.ready().await.unwrap().call(whole).await.is_ok());
    assert_eq!(runs.load(Ordering::SeqCst), 1);
}

/// Counts how often a task is woken.
struct CountWakes(AtomicUsize);

impl std::task::Wake for CountWakes {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// A body of many frames that are all ready at once is read over several polls, the
/// task waking itself in between, so reading it never holds its thread.
#[tokio::test(start_paused = true)]
async fn a_body_of_many_ready_chunks_is_read_across_polls_yielding_in_between() {
    use std::future::Future;

    let layer = IdempotencyLayer::unscoped(MemoryStore::new());
    let (mut svc, runs) = trickle_service(layer);
    let request = Request::post("/pay")
        .header("idempotency-key", "k")
        .body(Trickle {
            chunks: 100_000,
            stall: false,
        })
        .unwrap();
    svc.ready().await.unwrap();
    let mut call = Box::pin(svc.call(request));
    let wakes = Arc::new(CountWakes(AtomicUsize::new(0)));
    let waker = std::task::Waker::from(Arc::clone(&wakes));
    let mut cx = std::task::Context::from_waker(&waker);
    let mut polls = 0;
    let response = loop {
        polls += 1;
        if let std::task::Poll::Ready(response) = call.as_mut().poll(&mut cx) {
            break response;
        }
        assert!(
            wakes.0.load(Ordering::SeqCst) >= polls,
            "pending without a wake"
        );
    };
    assert!(response.is_ok());
    assert!(polls > 100, "read in {polls} polls");
    assert_eq!(runs.load(Ordering::SeqCst), 1);
}
