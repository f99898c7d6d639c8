//! Cancelled followers and leaders, and panicking leaders: nobody else is cancelled and
//! nobody hangs.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use resilience_core::coalesce::Coalescer;
use tokio::task::JoinSet;

/// A small deterministic generator (xorshift), so a failing run can be replayed.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

#[tokio::test(start_paused = true)]
async fn a_cancelled_leader_hands_the_call_to_a_follower_and_a_cancelled_follower_to_nobody() {
    let coalescer = Coalescer::<u8, &str>::builder().build().unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let call = |calls: Arc<AtomicUsize>| {
        move || async move {
            calls.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(100)).await;
            "answer"
        }
    };
    let mut tasks = JoinSet::new();
    let leader = tasks.spawn({
        let (coalescer, calls) = (coalescer.clone(), calls.clone());
        async move { coalescer.run(1, call(calls)).await }
    });
    tokio::task::yield_now().await;
    let follower = tasks.spawn({
        let (coalescer, calls) = (coalescer.clone(), calls.clone());
        async move { coalescer.run(1, call(calls)).await }
    });
    for _ in 0..3 {
        let (coalescer, calls) = (coalescer.clone(), calls.clone());
        tasks.spawn(async move { coalescer.run(1, call(calls)).await });
    }
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    follower.abort();
    leader.abort();
    let mut answered = 0;
    while let Some(done) = tasks.join_next().await {
        match done {
            Ok(answer) => {
                assert_eq!(answer, "answer");
                answered += 1;
            }
            Err(err) => assert!(err.is_cancelled()),
        }
    }
    assert_eq!(answered, 3, "the three others answered");
    assert_eq!(
        calls.load(Ordering::SeqCst),
        2,
        "a follower made the call again, once"
    );
    assert_eq!(coalescer.in_flight(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_leader_cancelled_with_no_follower_frees_the_key() {
    let coalescer = Coalescer::<u8, u8>::builder().build().unwrap();
    let pending = coalescer.run(1, std::future::pending::<u8>);
    assert_eq!(coalescer.in_flight(), 1);
    drop(pending);
    assert_eq!(coalescer.in_flight(), 0);
    assert_eq!(coalescer.run(1, || async { 7 }).await, 7);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_leader_that_panics_hands_the_call_to_a_follower() {
    let coalescer = Coalescer::<u8, u8>::builder().build().unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let (started, mut wait) = tokio::sync::mpsc::channel::<()>(1);
    let leader = tokio::spawn({
        let (coalescer, calls) = (coalescer.clone(), calls.clone());
        async move {
            coalescer
                .run(1, || async move {
                    calls.fetch_add(1, Ordering::SeqCst);
                    started.send(()).await.unwrap();
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    panic!("the leader's call panics");
                })
                .await
        }
    });
    wait.recv().await.unwrap();
    let followers: Vec<_> = (0..8)
        .map(|_| {
            let (coalescer, calls) = (coalescer.clone(), calls.clone());
            tokio::spawn(async move {
                coalescer
                    .run(1, || async move {
                        calls.fetch_add(1, Ordering::SeqCst);
                        5
                    })
                    .await
            })
        })
        .collect();
    assert!(leader.await.unwrap_err().is_panic());
    for follower in followers {
        let answer = tokio::time::timeout(Duration::from_secs(30), follower)
            .await
            .expect("a follower hung after its leader panicked");
        assert_eq!(answer.unwrap(), 5);
    }
    assert_eq!(
        calls.load(Ordering::SeqCst),
        2,
        "the panicked call, then one takeover"
    );
    assert_eq!(coalescer.in_flight(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn random_cancellation_of_followers_and_leaders_never_hangs_anyone() {
    let coalescer = Coalescer::<u64, u64>::builder().build().unwrap();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for round in 0..200_u64 {
        let key = round % 3;
        let mut handles = Vec::new();
        for _ in 0..20 {
            let coalescer = coalescer.clone();
            let took = Duration::from_micros(rng.below(400));
            handles.push(tokio::spawn(async move {
                coalescer
                    .run(key, move || async move {
                        tokio::time::sleep(took).await;
                        key * 10
                    })
                    .await
            }));
            if rng.below(4) == 0 {
                tokio::task::yield_now().await;
            }
        }
        // Cancel a random half, leaders included (the first requests usually lead).
        let mut cancelled = vec![false; handles.len()];
        for _ in 0..10 {
            let i = rng.below(handles.len() as u64) as usize;
            if rng.below(2) == 0 {
                tokio::time::sleep(Duration::from_micros(rng.below(200))).await;
            }
            handles[i].abort();
            cancelled[i] = true;
        }
        for (handle, cancelled) in handles.into_iter().zip(cancelled) {
            let done = tokio::time::timeout(Duration::from_secs(30), handle)
                .await
                .unwrap_or_else(|_| panic!("round {round}: a request hung"));
            match done {
                Ok(answer) => assert_eq!(answer, key * 10, "round {round}"),
                Err(err) => assert!(cancelled && err.is_cancelled(), "round {round}: {err}"),
            }
        }
    }
    assert_eq!(coalescer.in_flight(), 0, "no key is left behind");
}
