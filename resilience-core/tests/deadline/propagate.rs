use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use resilience_core::ErrorKind;
use resilience_core::deadline::{self, Deadline};
use tokio::time::{Instant, sleep};

use crate::DropFlag;

#[tokio::test(start_paused = true)]
async fn plain_spawn_loses_the_deadline_and_propagate_keeps_it() {
    let d = Deadline::after(Duration::from_secs(1));
    deadline::scope(d, async move {
        assert_eq!(
            tokio::spawn(async { Deadline::current() }).await.unwrap(),
            None
        );
        let work = deadline::propagate(async { Deadline::current() });
        assert_eq!(
            work.deadline(),
            Some(d),
            "captured at the call, not at the first poll"
        );
        assert_eq!(tokio::spawn(work).await.unwrap(), Some(d));
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn propagate_outside_any_scope_is_a_pass_through() {
    let work = deadline::propagate(async { Deadline::current() });
    assert_eq!(work.deadline(), None);
    assert_eq!(tokio::spawn(work).await.unwrap(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn propagate_works_across_worker_threads() {
    let d = Deadline::after(Duration::from_secs(30));
    let handles = deadline::scope(d, async move {
        (0..32)
            .map(|_| {
                tokio::spawn(deadline::propagate(async {
                    tokio::task::yield_now().await;
                    Deadline::current()
                }))
            })
            .collect::<Vec<_>>()
    })
    .await;
    for handle in handles {
        assert_eq!(handle.await.unwrap(), Some(d));
    }
}

#[tokio::test(start_paused = true)]
async fn spawn_stops_the_spawned_work_when_the_callers_deadline_passes() {
    let dropped = Arc::new(AtomicBool::new(false));
    let guard = DropFlag(dropped.clone());
    let start = Instant::now();
    let handle = deadline::scope(Deadline::after(Duration::from_millis(200)), async move {
        let handle = deadline::spawn(async move {
            let _guard = guard;
            sleep(Duration::from_secs(60)).await;
        });
        Some(handle)
    })
    .await
    .expect("spawned");
    // Nobody awaits the caller any more; the task still ends at the deadline.
    let err = handle.await.unwrap().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::DeadlineExceeded);
    assert_eq!(start.elapsed(), Duration::from_millis(200));
    assert!(dropped.load(Ordering::SeqCst));
}

#[tokio::test(start_paused = true)]
async fn spawn_without_a_deadline_runs_to_completion() {
    let handle = deadline::spawn(async {
        sleep(Duration::from_secs(3600)).await;
        "done"
    });
    assert_eq!(handle.await.unwrap().unwrap(), "done");
}

#[tokio::test(start_paused = true)]
async fn sync_scope_sets_the_deadline_for_synchronous_code_and_keeps_the_earlier() {
    let outer = Deadline::after(Duration::from_secs(1));
    let later = Deadline::after(Duration::from_secs(5));
    let earlier = Deadline::after(Duration::from_millis(10));
    deadline::scope(outer, async move {
        assert_eq!(deadline::sync_scope(later, Deadline::current), Some(outer));
        assert_eq!(
            deadline::sync_scope(earlier, Deadline::current),
            Some(earlier)
        );
        assert_eq!(Deadline::current(), Some(outer), "restored afterwards");
    })
    .await;
    assert_eq!(deadline::sync_scope(later, Deadline::current), Some(later));
    assert_eq!(Deadline::current(), None);
}

#[tokio::test(start_paused = true)]
async fn sync_scope_with_hands_its_argument_on_under_the_earlier_deadline() {
    let outer = Deadline::after(Duration::from_secs(1));
    let later = Deadline::after(Duration::from_secs(5));
    let earlier = Deadline::after(Duration::from_millis(10));
    let request = vec![7_u8; 512];
    deadline::scope(outer, async move {
        let (len, seen) =
            deadline::sync_scope_with(later, request, |r| (r.len(), Deadline::current()));
        assert_eq!(
            (len, seen),
            (512, Some(outer)),
            "the outer, earlier one wins"
        );
        let seen = deadline::sync_scope_with(earlier, (), |()| Deadline::current());
        assert_eq!(seen, Some(earlier));
        assert_eq!(Deadline::current(), Some(outer), "restored afterwards");
    })
    .await;
    // Restored also when `f` panics.
    let panicked = std::panic::catch_unwind(|| {
        deadline::sync_scope_with(later, (), |()| panic!("inside the scope"))
    });
    assert!(panicked.is_err());
    assert_eq!(Deadline::current(), None);
}
