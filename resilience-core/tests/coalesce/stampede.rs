//! A thousand identical requests at once, on a multi-thread runtime: one call.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use resilience_core::coalesce::Coalescer;
use tokio::sync::watch;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_thousand_concurrent_identical_requests_make_exactly_one_call() {
    const REQUESTS: usize = 1_000;
    let coalescer = Coalescer::<&str, u64>::builder().build().unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let joined = Arc::new(AtomicUsize::new(0));
    // The call answers only once every request has joined, so all of them overlap it.
    let (open, gate) = watch::channel(false);
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..REQUESTS {
        let (coalescer, calls, joined, mut gate) = (
            coalescer.clone(),
            calls.clone(),
            joined.clone(),
            gate.clone(),
        );
        tasks.spawn(async move {
            let request = coalescer.run("/popular", || async move {
                calls.fetch_add(1, Ordering::SeqCst);
                gate.wait_for(|open| *open).await.unwrap();
                42
            });
            joined.fetch_add(1, Ordering::SeqCst);
            request.await
        });
    }
    while joined.load(Ordering::SeqCst) < REQUESTS {
        tokio::task::yield_now().await;
    }
    assert_eq!(coalescer.in_flight(), 1);
    open.send(true).unwrap();
    let mut answers = 0;
    while let Some(answer) = tasks.join_next().await {
        assert_eq!(answer.unwrap(), 42);
        answers += 1;
    }
    assert_eq!(answers, REQUESTS);
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "one call for every request"
    );
    assert_eq!(
        coalescer.in_flight(),
        0,
        "the key is free once the call is over"
    );
}
