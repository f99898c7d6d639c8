//! Reloads under load: 1,000 tasks on a multi-thread runtime use a bulkhead while its
//! capacity changes, and 500 an adaptive bulkhead while its algorithm and ceiling change;
//! threads use a breaker and a rate limiter while they are reloaded.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use crate::{load, reload};

/// Calls inside a primitive now, and the cap they must keep to while one is enforced.
#[derive(Clone)]
struct CapWatch {
    active: Arc<AtomicUsize>,
    enforced: Arc<AtomicUsize>,
    over: Arc<AtomicBool>,
    done: Arc<AtomicUsize>,
}

impl CapWatch {
    fn new() -> Self {
        Self {
            active: Arc::new(AtomicUsize::new(0)),
            enforced: Arc::new(AtomicUsize::new(usize::MAX)),
            over: Arc::new(AtomicBool::new(false)),
            done: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// The work of call `i` inside the primitive: counted, a short sleep or a yield.
    async fn inside(&self, i: usize) {
        let now = self.active.fetch_add(1, Ordering::SeqCst) + 1;
        if now > self.enforced.load(Ordering::SeqCst) {
            self.over.store(true, Ordering::SeqCst);
        }
        if i % 7 == 0 {
            tokio::time::sleep(Duration::from_micros(50)).await;
        } else {
            tokio::task::yield_now().await;
        }
        self.active.fetch_sub(1, Ordering::SeqCst);
    }

    /// After a reload to `cap`: waits for the calls above it to finish (`in_flight`),
    /// then holds every call to it for a while.
    async fn hold(&self, cap: usize, tasks: usize, in_flight: impl Fn() -> usize) {
        while in_flight() > cap && self.done.load(Ordering::SeqCst) < tasks {
            tokio::task::yield_now().await;
        }
        self.enforced.store(cap, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(2)).await;
        self.enforced.store(usize::MAX, Ordering::SeqCst);
    }

    /// Whether every call kept to the cap in force.
    fn kept(&self) -> bool {
        !self.over.load(Ordering::SeqCst)
    }
}

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
    let watch = CapWatch::new();

    let mut tasks = Vec::with_capacity(TASKS);
    for i in 0..TASKS {
        let (pool, watch) = (pool.clone(), watch.clone());
        tasks.push(tokio::spawn(async move {
            for _ in 0..4 {
                let permit = pool.acquire().await.expect("the queue holds every task");
                watch.inside(i).await;
                drop(permit);
            }
            watch.done.fetch_add(1, Ordering::SeqCst);
        }));
    }

    // Move the cap up and down while the tasks run; after lowering it, wait for the
    // calls above it to finish, then hold every later call to it.
    for cap in [8, 100, 3, 50, 5] {
        reload(&registry, &doc(cap));
        assert_eq!(pool.capacity(), cap);
        watch.hold(cap, TASKS, || pool.in_flight()).await;
    }
    watch.enforced.store(5, Ordering::SeqCst);

    for task in tasks {
        task.await.unwrap();
    }
    assert!(watch.kept(), "a call ran above the cap in force");
    assert_eq!(pool.in_flight(), 0, "every permit came back");
    assert_eq!(pool.waiting(), 0);
    assert_eq!(pool.available(), 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn adaptive_algorithm_and_ceiling_changes_under_load_leak_no_permit_and_a_lower_ceiling_holds()
 {
    const TASKS: usize = 500;
    let doc = |algorithm: &str, cap: usize| {
        format!(
            "[adaptive_bulkhead.search]\nalgorithm = \"{algorithm}\"\nmin_limit = 1\n\
             initial_limit = {cap}\nmax_limit = {cap}\nmin_window = \"1ms\"\n\
             max_window = \"1ms\"\nwindow_samples = 1\nmax_waiting = {TASKS}\nmax_wait = \"60s\"\n"
        )
    };
    let registry = load(&doc("aimd", 64));
    let b = registry.get_adaptive_bulkhead("search").unwrap();
    let watch = CapWatch::new();
    let mut tasks = Vec::with_capacity(TASKS);
    for i in 0..TASKS {
        let (b, watch) = (b.clone(), watch.clone());
        tasks.push(tokio::spawn(async move {
            for _ in 0..4 {
                b.call(async {
                    watch.inside(i).await;
                    Ok::<_, std::io::Error>(())
                })
                .await
                .expect("the queue holds every task");
            }
            watch.done.fetch_add(1, Ordering::SeqCst);
        }));
    }
    // Each reload swaps the algorithm and moves the ceiling.
    for (algorithm, cap) in [
        ("vegas", 8),
        ("aimd", 100),
        ("vegas", 3),
        ("aimd", 50),
        ("aimd", 5),
    ] {
        reload(&registry, &doc(algorithm, cap));
        assert_eq!(b.snapshot().algorithm, algorithm);
        assert!(b.limit() <= cap);
        watch.hold(cap, TASKS, || b.in_flight()).await;
    }
    watch.enforced.store(5, Ordering::SeqCst);
    for task in tasks {
        task.await.unwrap();
    }
    assert!(watch.kept(), "a call ran above the ceiling in force");
    assert_eq!(b.in_flight(), 0, "every permit came back");
    assert_eq!(b.waiting(), 0);
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
