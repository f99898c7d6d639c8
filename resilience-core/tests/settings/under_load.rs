//! Reloads under load: 1,000 tasks on a multi-thread runtime use a bulkhead while its
//! capacity changes; threads use a breaker and a rate limiter while they are reloaded.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use crate::{load, reload};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn capacity_changes_under_load_leak_no_permit_and_a_lower_cap_holds_once_calls_above_it_finish()
 {
    const TASKS: usize = 1_000;
    let doc = |cap: usize| {
        format!(
            "[bulkhead.pool]\nmax_concurrent = {cap}\nmax_waiting = {TASKS}\nmax_wait = \"60s\"\n"
        )
    };
    let registry = load(&doc(64));
    let pool = registry.get_bulkhead("pool").unwrap();
    // Calls inside the bulkhead now, and the cap they must keep to (none at first).
    let active = Arc::new(AtomicUsize::new(0));
    let enforced = Arc::new(AtomicUsize::new(usize::MAX));
    let over = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicUsize::new(0));

    let mut tasks = Vec::with_capacity(TASKS);
    for i in 0..TASKS {
        let pool = pool.clone();
        let (active, enforced, over, done) =
            (active.clone(), enforced.clone(), over.clone(), done.clone());
        tasks.push(tokio::spawn(async move {
            for _ in 0..4 {
                let permit = pool.acquire().await.expect("the queue holds every task");
                let now = active.fetch_add(1, Ordering::SeqCst) + 1;
                if now > enforced.load(Ordering::SeqCst) {
                    over.store(true, Ordering::SeqCst);
                }
                if i % 7 == 0 {
                    tokio::time::sleep(Duration::from_micros(50)).await;
                } else {
                    tokio::task::yield_now().await;
                }
                active.fetch_sub(1, Ordering::SeqCst);
                drop(permit);
            }
            done.fetch_add(1, Ordering::SeqCst);
        }));
    }

    // Move the cap up and down while the tasks run; after lowering it, wait for the
    // calls above it to finish, then hold every later call to it.
    for cap in [8, 100, 3, 50, 5] {
        reload(&registry, &doc(cap));
        assert_eq!(pool.capacity(), cap);
        loop {
            if pool.in_flight() <= cap || done.load(Ordering::SeqCst) == TASKS {
                break;
            }
            tokio::task::yield_now().await;
        }
        enforced.store(cap, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(2)).await;
        enforced.store(usize::MAX, Ordering::SeqCst);
    }
    enforced.store(5, Ordering::SeqCst);

    for task in tasks {
        task.await.unwrap();
    }
    assert!(
        !over.load(Ordering::SeqCst),
        "a call ran above the cap in force"
    );
    assert_eq!(pool.in_flight(), 0, "every permit came back");
    assert_eq!(pool.waiting(), 0);
    assert_eq!(pool.available(), 5);
}

/// Reloads of a breaker while threads record successes and failures: once they stop,
/// a window's worth of successes pushes every failure out (no success was skipped on
/// the strength of a stale "the window is clean").
#[test]
fn breaker_reloads_under_concurrent_outcomes_lose_no_recording() {
    use resilience_core::circuit_breaker::State;

    let doc = |window: u32| {
        format!(
            "[circuit_breaker.cb]\ncount_window = {window}\nfailure_rate_threshold = 1.0\n\
             consecutive_failures = 1000000\n"
        )
    };
    let registry = load(&doc(10));
    let breaker = registry.get_circuit_breaker("cb").unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let (breaker, stop) = (breaker.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut i = t;
                while !stop.load(Ordering::Relaxed) {
                    i += 1;
                    if let Ok(permit) = breaker.try_acquire() {
                        if i % 8 == 0 {
                            permit.record_failure();
                        } else {
                            permit.record_success();
                        }
                    }
                }
            })
        })
        .collect();
    // The same shape (counts kept) and other shapes (a new window), back and forth.
    let mut last = 0;
    for window in [10, 10, 20, 20, 10, 30, 10].iter().cycle().take(200) {
        reload(&registry, &doc(*window));
        last = *window;
        std::thread::yield_now();
    }
    stop.store(true, Ordering::Relaxed);
    for thread in threads {
        thread.join().unwrap();
    }
    assert_eq!(breaker.state(), State::Closed);
    for _ in 0..last {
        breaker.try_acquire().unwrap().record_success();
    }
    let snapshot = breaker.snapshot();
    assert_eq!((snapshot.calls, snapshot.failed_calls), (last, 0));
}

/// Reloads of a rate limiter while threads take units: no call ever sees a torn quota
/// (an interval of one with the tolerance of the other would admit more than either).
#[test]
fn rate_limiter_reloads_under_concurrent_calls_admit_no_more_than_the_larger_quota() {
    let doc = |burst: u32| format!("[rate_limiter.api]\nrate = 0.001\nburst = {burst}\n");
    let registry = load(&doc(100));
    let limiter = registry.get_rate_limiter("api").unwrap();
    let admitted = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let (limiter, admitted, stop) = (limiter.clone(), admitted.clone(), stop.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    if limiter.try_acquire().is_ok() {
                        admitted.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    for burst in [100, 200].iter().cycle().take(200) {
        reload(&registry, &doc(*burst));
        std::thread::yield_now();
    }
    stop.store(true, Ordering::Relaxed);
    for thread in threads {
        thread.join().unwrap();
    }
    // One unit per 1000s: nothing refills during the test, so the larger burst bounds
    // everything ever granted.
    let admitted = admitted.load(Ordering::Relaxed);
    assert!((100..=200).contains(&admitted), "{admitted} admitted");
}
