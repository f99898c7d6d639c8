//! Many hedged calls at once on a multi-thread runtime: every attempt and permit is
//! given back, whoever wins.

use std::time::Duration;

use resilience_core::bulkhead::Bulkhead;
use resilience_core::outcome;

use crate::support::{Backend, fixed};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_hedged_calls_release_every_losing_attempt_and_permit() {
    let hedge = fixed(Duration::from_micros(300), 2).build().unwrap();
    let backend = Backend::default();
    let bulkhead = Bulkhead::builder().max_concurrent(10_000).build().unwrap();
    let mut tasks = tokio::task::JoinSet::new();
    for task in 0..200_u64 {
        let (hedge, backend, bulkhead) = (hedge.clone(), backend.clone(), bulkhead.clone());
        tasks.spawn(async move {
            for call in 0..5_u64 {
                // Latencies from 0 to 1.4 ms, spread by task and call.
                let took = Duration::from_micros((task * 7 + call * 13) % 15 * 100);
                hedge
                    .run(|| {
                        let attempt =
                            bulkhead.guard(outcome::lift(backend.call(|_| took, |_| false)));
                        async move { attempt.await.and_then(|result| result) }
                    })
                    .await
                    .unwrap();
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap();
    }
    assert_eq!(backend.live(), 0, "no attempt outlives its call");
    assert_eq!(bulkhead.in_flight(), 0, "no permit outlives its attempt");
    let snapshot = hedge.snapshot();
    assert!(snapshot.sent > 0, "slow calls were hedged");
    assert_eq!(backend.calls() as u64, 1000 + snapshot.sent);
}
