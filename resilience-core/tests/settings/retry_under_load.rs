//! A retry policy reloaded while many tasks call through it on a multi-thread runtime:
//! no panic, and every call makes the attempts of either the old or the new settings.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use resilience_core::{Error, ErrorKind};

use crate::{load, reload};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_call_under_reload_makes_the_old_or_the_new_number_of_attempts() {
    const TASKS: usize = 64;
    const CALLS: usize = 50;
    let doc = |n: u32| {
        format!(
            "[retry.p]\nmax_attempts = {n}\nbackoff = \"constant\"\nbase = \"0s\"\nbudget = \"none\"\n"
        )
    };
    let registry = Arc::new(load(&doc(2)));
    let policy = registry.get_retry_policy("p").unwrap();
    let stop = Arc::new(AtomicBool::new(false));

    let reloader = {
        let (registry, stop) = (registry.clone(), stop.clone());
        tokio::spawn(async move {
            let mut reloads = 0_u32;
            while !stop.load(Ordering::Relaxed) {
                reloads += 1;
                reload(&registry, &doc(if reloads % 2 == 0 { 2 } else { 5 }));
                tokio::task::yield_now().await;
            }
            reloads
        })
    };

    let mut tasks = Vec::with_capacity(TASKS);
    for _ in 0..TASKS {
        let policy = policy.clone();
        tasks.push(tokio::spawn(async move {
            let mut seen = [0_usize; 2];
            for _ in 0..CALLS {
                let attempts = AtomicU32::new(0);
                let err = policy
                    .run(|| {
                        attempts.fetch_add(1, Ordering::Relaxed);
                        async {
                            tokio::task::yield_now().await;
                            Err::<(), _>(Error::new(ErrorKind::Inner))
                        }
                    })
                    .await
                    .unwrap_err();
                let made = attempts.load(Ordering::Relaxed);
                assert!(made == 2 || made == 5, "{made} attempts");
                assert_eq!(err.attempts(), Some(made));
                seen[usize::from(made == 5)] += 1;
            }
            seen
        }));
    }
    let mut seen = [0_usize; 2];
    for task in tasks {
        let [two, five] = task.await.expect("no task panicked");
        seen[0] += two;
        seen[1] += five;
    }
    stop.store(true, Ordering::Relaxed);
    let reloads = reloader.await.unwrap();
    assert!(reloads > 1, "the policy was reloaded while in use");
    assert_eq!(seen[0] + seen[1], TASKS * CALLS);
}
