//! Real concurrency: many tasks on a multi-thread runtime racing for one burst. The rate is
//! one unit an hour, so nothing refills while the test runs: the burst is all there is.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
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

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_thousand_tasks_racing_never_get_more_than_the_burst() {
    for burst in [1, 37, 500] {
        let limiter = hourly(burst);
        let admitted = Arc::new(AtomicU32::new(0));
        let start = Arc::new(Barrier::new(TASKS));
        let tasks: Vec<_> = (0..TASKS)
            .map(|i| {
                let (limiter, admitted, start) =
                    (limiter.clone(), Arc::clone(&admitted), Arc::clone(&start));
                tokio::spawn(async move {
                    start.wait().await;
                    // Mixed single and weighted requests.
                    let n = if i % 3 == 0 { 2 } else { 1 };
                    if limiter.try_acquire_n(n).is_ok() {
                        admitted.fetch_add(n, Ordering::SeqCst);
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        let admitted = admitted.load(Ordering::SeqCst);
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
    let limiter = KeyedRateLimiter::<u32>::builder()
        .limit(1, Duration::from_secs(3600))
        .burst(25)
        .build()
        .unwrap();
    let admitted: Arc<Vec<AtomicU32>> = Arc::new((0..10).map(|_| AtomicU32::new(0)).collect());
    let start = Arc::new(Barrier::new(TASKS));
    let tasks: Vec<_> = (0..TASKS)
        .map(|i| {
            let (limiter, admitted, start) =
                (limiter.clone(), Arc::clone(&admitted), Arc::clone(&start));
            tokio::spawn(async move {
                start.wait().await;
                let key = (i % 10) as u32;
                if limiter.try_acquire(&key).is_ok() {
                    admitted[key as usize].fetch_add(1, Ordering::SeqCst);
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    for (key, count) in admitted.iter().enumerate() {
        assert_eq!(count.load(Ordering::SeqCst), 25, "key {key}");
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
    let start = Arc::new(Barrier::new(200));
    let tasks: Vec<_> = (0..200)
        .map(|_| {
            let (limiter, start) = (limiter.clone(), Arc::clone(&start));
            tokio::spawn(async move {
                start.wait().await;
                let asked = std::time::Instant::now();
                limiter.acquire().await.unwrap();
                (asked, std::time::Instant::now())
            })
        })
        .collect();
    let mut first_asked = None::<std::time::Instant>;
    let mut last_admitted = None::<std::time::Instant>;
    for task in tasks {
        let (asked, admitted) = task.await.unwrap();
        first_asked = Some(first_asked.map_or(asked, |t| t.min(asked)));
        last_admitted = Some(last_admitted.map_or(admitted, |t| t.max(admitted)));
    }
    let span = last_admitted.unwrap() - first_asked.unwrap();
    assert!(span >= Duration::from_millis(199), "200 turns in {span:?}");
}
