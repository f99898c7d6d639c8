//! `CoalesceLayer`: one inner call for identical requests in flight, with the default
//! HTTP key keeping different clients and methods apart; shared errors; cancellation.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use http::{Method, Request, Response};
use resilience_core::ErrorKind;
use resilience_tower::coalesce::{CoalesceLayer, Coalescer};
use resilience_tower::key::{HttpKeyOf, KeyFn};
use tokio::sync::watch;
use tower::{Layer, Service, ServiceExt};

/// Counts calls; each answers after the gate opens (at once if it is open).
#[derive(Clone)]
struct Backend {
    calls: Arc<AtomicU32>,
    gate: watch::Receiver<bool>,
    fail: bool,
}

impl Backend {
    fn new(open: bool) -> (Self, watch::Sender<bool>) {
        let (tx, gate) = watch::channel(open);
        let backend = Self {
            calls: Arc::default(),
            gate,
            fail: false,
        };
        (backend, tx)
    }

    fn calls(&self) -> u32 {
        self.calls.load(Ordering::SeqCst)
    }
}

type Boxed<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<B> Service<Request<B>> for Backend {
    type Response = Response<String>;
    type Error = std::io::Error;
    type Future = Boxed<Result<Response<String>, std::io::Error>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let n = self.calls.fetch_add(1, Ordering::SeqCst);
        let mut gate = self.gate.clone();
        let fail = self.fail;
        let path = request.uri().path().to_owned();
        Box::pin(async move {
            gate.wait_for(|open| *open).await.unwrap();
            if fail {
                return Err(std::io::Error::other("upstream reset"));
            }
            Ok(Response::new(format!("{path} from call {n}")))
        })
    }
}

fn coalescer()
-> Coalescer<HttpKeyOf, Result<Response<String>, resilience_tower::coalesce::SharedError>> {
    Coalescer::builder().name("pages").build().unwrap()
}

fn get(path: &str) -> Request<()> {
    Request::get(path).body(()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_thousand_identical_gets_at_once_make_one_inner_call() {
    let (backend, open) = Backend::new(false);
    let svc = CoalesceLayer::new(coalescer()).layer(backend.clone());
    let mut tasks = tokio::task::JoinSet::new();
    let mut futures = Vec::new();
    for _ in 0..1_000 {
        let mut svc = svc.clone();
        ServiceExt::<Request<()>>::ready(&mut svc).await.unwrap();
        futures.push(svc.call(get("/catalog")));
    }
    for future in futures {
        tasks.spawn(future);
    }
    open.send(true).unwrap();
    while let Some(done) = tasks.join_next().await {
        assert_eq!(done.unwrap().unwrap().body(), "/catalog from call 0");
    }
    assert_eq!(backend.calls(), 1);
}

#[tokio::test(start_paused = true)]
async fn posts_and_requests_of_different_clients_are_not_coalesced() {
    let (backend, _open) = Backend::new(true);
    let svc = CoalesceLayer::new(coalescer()).layer(backend.clone());
    let post = || {
        Request::builder()
            .method(Method::POST)
            .uri("/orders")
            .body(())
            .unwrap()
    };
    let as_user = |user: &str| {
        Request::get("/me")
            .header("authorization", format!("Bearer {user}"))
            .body(())
            .unwrap()
    };
    let (a, b, c, d) = tokio::join!(
        svc.clone().oneshot(post()),
        svc.clone().oneshot(post()),
        svc.clone().oneshot(as_user("alice")),
        svc.clone().oneshot(as_user("bob")),
    );
    assert_ne!(
        c.unwrap().body(),
        d.unwrap().body(),
        "alice and bob each got their own"
    );
    assert!(a.is_ok() && b.is_ok());
    assert_eq!(backend.calls(), 4);
}

#[tokio::test(start_paused = true)]
async fn an_error_reaches_every_waiter_as_a_resilience_error() {
    let (mut backend, open) = Backend::new(false);
    backend.fail = true;
    let svc = CoalesceLayer::new(coalescer()).layer(backend.clone());
    let first = tokio::spawn(svc.clone().oneshot(get("/x")));
    let second = tokio::spawn(svc.clone().oneshot(get("/x")));
    tokio::task::yield_now().await;
    open.send(true).unwrap();
    for waiter in [first, second] {
        let err = waiter.await.unwrap().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Inner);
        assert!(format!("{err:#}").ends_with("upstream reset"), "{err:#}");
    }
    assert_eq!(backend.calls(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_follower_takes_over_with_its_own_request_when_the_leader_is_cancelled() {
    let (backend, open) = Backend::new(false);
    let svc = CoalesceLayer::new(Coalescer::builder().build().unwrap())
        .key(KeyFn(|request: &Request<()>| {
            // Coalesce on the path only, so the follower's own request is visible.
            Some(request.uri().path().to_owned())
        }))
        .layer(backend.clone());
    let leader = tokio::spawn(svc.clone().oneshot(get("/page?from=leader")));
    tokio::task::yield_now().await;
    let follower = tokio::spawn(svc.clone().oneshot(get("/page?from=follower")));
    tokio::task::yield_now().await;
    assert_eq!(backend.calls(), 1);
    leader.abort();
    assert!(leader.await.unwrap_err().is_cancelled());
    open.send(true).unwrap();
    let answer = tokio::time::timeout(Duration::from_secs(5), follower)
        .await
        .expect("the follower does not hang")
        .unwrap()
        .unwrap();
    assert_eq!(
        answer.body(),
        "/page from call 1",
        "the follower's own call"
    );
    assert_eq!(backend.calls(), 2);
}
