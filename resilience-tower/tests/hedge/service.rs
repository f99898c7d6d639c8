//! `HedgeLayer` around in-process services, under paused time.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use resilience_core::classify::{self, TransientErrors};
use resilience_core::{Class, Error, ErrorKind};
use resilience_tower::hedge::{Hedge, HedgeLayer};
use tokio::time::Instant;
use tower::{Layer, Service, ServiceExt};

const MS: Duration = Duration::from_millis(1);

fn hedge(delay: Duration, max_hedges: u32) -> Hedge {
    Hedge::builder()
        .delay(delay)
        .max_hedges(max_hedges)
        .no_budget()
        .build()
        .unwrap()
}

/// The `n`th call answers `n` after `latency(n)`; counts `poll_ready`, calls, and the
/// calls still alive.
#[derive(Clone)]
struct Replicas {
    latency: fn(u32) -> Duration,
    ready: Arc<AtomicU32>,
    calls: Arc<AtomicU32>,
    live: Arc<AtomicU32>,
}

impl Replicas {
    fn new(latency: fn(u32) -> Duration) -> Self {
        Self {
            latency,
            ready: Arc::default(),
            calls: Arc::default(),
            live: Arc::default(),
        }
    }
}

struct Live(Arc<AtomicU32>);

impl Drop for Live {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Service<&'static str> for Replicas {
    type Response = (u32, &'static str);
    type Error = Error;
    type Future = Pin<Box<dyn Future<Output = Result<(u32, &'static str), Error>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.ready.fetch_add(1, Ordering::SeqCst);
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: &'static str) -> Self::Future {
        let n = self.calls.fetch_add(1, Ordering::SeqCst);
        self.live.fetch_add(1, Ordering::SeqCst);
        let live = Live(Arc::clone(&self.live));
        let took = (self.latency)(n);
        Box::pin(async move {
            let _live = live;
            tokio::time::sleep(took).await;
            Ok((n, req))
        })
    }
}

#[tokio::test(start_paused = true)]
async fn a_slow_call_is_hedged_with_a_replay_after_readiness_and_the_loser_dropped() {
    let replicas = Replicas::new(|n| {
        if n == 0 {
            Duration::from_secs(3)
        } else {
            5 * MS
        }
    });
    let svc = HedgeLayer::new(hedge(20 * MS, 1)).layer(replicas.clone());
    let start = Instant::now();
    let (n, echoed) = svc.oneshot("query").await.unwrap();
    assert_eq!(
        (n, echoed),
        (1, "query"),
        "the hedge answered, with the same request"
    );
    assert_eq!(start.elapsed(), 25 * MS);
    assert_eq!(replicas.calls.load(Ordering::SeqCst), 2);
    assert_eq!(
        replicas.ready.load(Ordering::SeqCst),
        2,
        "readiness before each attempt"
    );
    assert_eq!(
        replicas.live.load(Ordering::SeqCst),
        0,
        "the slow call was dropped"
    );
}

#[tokio::test(start_paused = true)]
async fn a_fast_call_is_not_hedged() {
    let replicas = Replicas::new(|_| 5 * MS);
    let svc = HedgeLayer::new(hedge(20 * MS, 2)).layer(replicas.clone());
    svc.oneshot("query").await.unwrap();
    assert_eq!(replicas.calls.load(Ordering::SeqCst), 1);
}

#[tokio::test(start_paused = true)]
async fn the_classifier_decides_which_answers_are_waited_past() {
    // The first replica answers "unavailable" at 30 ms, after the hedge went out at
    // 20 ms; the hedge answers at 40 ms.
    let replicas = Replicas::new(|n| if n == 0 { 30 * MS } else { 20 * MS });
    let unavailable_first = classify::from_fn(|result: &Result<(u32, &str), Error>| match result {
        Ok((0, _)) => Class::TRANSIENT,
        Ok(_) => Class::Success,
        Err(_) => Class::TRANSIENT,
    });
    let svc = HedgeLayer::new(hedge(20 * MS, 1))
        .classifier(unavailable_first)
        .layer(replicas.clone());
    let start = Instant::now();
    let (n, _) = svc.oneshot("query").await.unwrap();
    assert_eq!((n, start.elapsed()), (1, 40 * MS));
}

#[tokio::test(start_paused = true)]
async fn inner_errors_arrive_as_resilience_errors() {
    let svc = HedgeLayer::new(hedge(20 * MS, 1))
        .classifier(TransientErrors)
        .layer(tower::service_fn(|_: u8| async {
            Err::<u8, _>(std::io::Error::other("refused"))
        }));
    let err = svc.oneshot(1).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Inner);
    assert!(err.downcast_ref::<std::io::Error>().is_some());
}
