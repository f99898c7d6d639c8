//! Real concurrency: many tasks on a multi-thread runtime racing for one burst. The rate is
//! one unit an hour, so nothing refills while the test runs: the burst is all there is.

use std::sync::Arc;
use std::time::Duration;

use resilience_core::rate_limit::{KeyedRateLimiter, RateLimiter};
use tokio::sync::Barrier;

const TASKS: usize = 1_000;

fn hourly(burst: u32) -> RateLimiter {
    RateLimiter::builder()
        .limit(1, Duration::from_secs(3600))
        .burst(burst)
        .build()
        .unwrap()
}

/// Runs `attempt(i)` for each `i` below `tasks`, each in its own task, all released at
/// once; their outputs.
async fn race<T, F>(tasks: usize, attempt: impl Fn(usize) -> F) -> Vec<T>
where
    F: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let start = Arc::new(Barrier::new(tasks));
    let running: Vec<_> = (0..tasks)
        .map(|i| {
            let (start, attempt) = (Arc::clone(&start), attempt(i));
            tokio::spawn(async move {
                start.wait().await;
                attempt.await
            })
        })
        .collect();
    let mut outputs = Vec::with_capacity(tasks);
    for task in running {
        outputs.push(task.await.unwrap());
    }
    outputs
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_thousand_tasks_racing_never_get_more_than_the_burst() {
    for burst in [1, 37, 500] {
        let limiter = hourly(burst);
        let admitted: u32 = race(TASKS, |i| {
            let limiter = limiter.clone();
            async move {
                // Mixed single and weighted requests.
                let n = if i % 3 == 0 { 2 } else { 1 };
                if limiter.try_acquire_n(n).is_ok() {
                    n
                } else {
                    0
                }
            }
        })
        .await
        .into_iter()
        .sum();
        assert!(
            admitted <= burst,
            "{admitted} units admitted, burst {burst}"
        );
        // Single-unit requests alone would fill it: at most one unit can be left over.
        assert!(admitted + 1 >= burst, "{admitted} of {burst}: units lost");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_thousand_tasks_over_ten_keys_get_exactly_each_keys_burst() {
    let limiter = KeyedRateLimiter::<usize>::builder()
        .limit(1, Duration::from_secs(3600))
        .burst(25)
        .build()
        .unwrap();
    let admitted = race(TASKS, |i| {
        let limiter = limiter.clone();
        async move { limiter.try_acquire(&(i % 10)).is_ok().then_some(i % 10) }
    })
    .await;
    for key in 0..10 {
        let count = admitted.iter().filter(|k| **k == Some(key)).count();
        assert_eq!(count, 25, "key {key}");
    }
    assert_eq!(limiter.len(), 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_waiters_book_distinct_turns() {
    // 1,000 units a second, one at once: 200 racing waiters need 200 distinct turns, so
    // the last is admitted no sooner than 199 ms after the first asked.
    let limiter = RateLimiter::builder()
        .rate(1000.0)
        .burst(1)
        .max_wait(Duration::from_secs(5))
        .build()
        .unwrap();
    let turns = race(200, |_| {
        let limiter = limiter.clone();
        async move {
            let asked = std::time::Instant::now();
            limiter.acquire().await.unwrap();
            (asked, std::time::Instant::now())
        }
    })
    .await;
    let first_asked = turns.iter().map(|t| t.0).min();
    let last_admitted = turns.iter().map(|t| t.1).max();
    let span = last_admitted.unwrap() - first_asked.unwrap();
    assert!(span >= Duration::from_millis(199), "200 turns in {span:?}");
}
