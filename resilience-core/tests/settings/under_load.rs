//! A reload under load: 1,000 tasks on a multi-thread runtime use a bulkhead while its
//! capacity changes.

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
    assert!(!over.load(Ordering::SeqCst), "a call ran above the cap in force");
    assert_eq!(pool.in_flight(), 0, "every permit came back");
    assert_eq!(pool.waiting(), 0);
    assert_eq!(pool.available(), 5);
}
