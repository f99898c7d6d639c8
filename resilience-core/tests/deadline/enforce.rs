use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use resilience_core::deadline::{self, Deadline};
use resilience_core::telemetry::deadline_where;
use resilience_core::{ErrorKind, FieldValue, Primitive};
use tokio::time::{Instant, sleep};

use crate::{DropFlag, counted_pending};

#[tokio::test(start_paused = true)]
async fn no_deadline_runs_the_future_untouched() {
    assert_eq!(Deadline::current(), None);
    let out = deadline::enforce(async {
        sleep(Duration::from_secs(3600)).await;
        42
    })
    .await;
    assert_eq!(out.unwrap(), 42);
}

#[tokio::test(start_paused = true)]
async fn finishing_before_the_deadline_returns_the_output() {
    let d = Deadline::after(Duration::from_secs(1));
    let out = d
        .run(async {
            sleep(Duration::from_millis(999)).await;
            Deadline::current()
        })
        .await;
    assert_eq!(out.unwrap(), Some(d), "run makes its deadline ambient");
}

#[tokio::test(start_paused = true)]
async fn already_expired_deadline_never_polls_the_operation() {
    let polls = Arc::new(AtomicUsize::new(0));
    let d = Deadline::after(Duration::from_millis(10));
    sleep(Duration::from_millis(10)).await;

    let err = d.run(counted_pending(polls.clone())).await.unwrap_err();
    assert_eq!(polls.load(Ordering::SeqCst), 0, "operation was polled");
    assert_eq!(err.kind(), ErrorKind::DeadlineExceeded);
    assert!(err.is_rejection());
    assert_eq!(err.primitive(), Some(Primitive::Deadline));
    assert_eq!(
        err.field("where"),
        Some(&FieldValue::from(deadline_where::BEFORE_CALL))
    );

    // Same through the ambient form.
    let err = deadline::scope(d, deadline::enforce(counted_pending(polls.clone())))
        .await
        .unwrap_err();
    assert!(err.is_rejection());
    assert_eq!(polls.load(Ordering::SeqCst), 0);
}

#[tokio::test(start_paused = true)]
async fn deadline_passing_mid_call_drops_the_future_and_reports_budget_and_elapsed() {
    let dropped = Arc::new(AtomicBool::new(false));
    let guard = DropFlag(dropped.clone());
    let start = Instant::now();
    let mut call = std::pin::pin!(Deadline::after(Duration::from_millis(300)).run(async move {
        let _guard = guard;
        sleep(Duration::from_secs(10)).await;
    }));

    let err = (&mut call).await.unwrap_err();
    assert_eq!(start.elapsed(), Duration::from_millis(300));
    assert!(
        dropped.load(Ordering::SeqCst),
        "the operation is dropped as soon as the deadline passes, before the wrapper is"
    );
    assert_eq!(err.kind(), ErrorKind::DeadlineExceeded);
    assert!(!err.is_rejection(), "the operation was running");
    assert_eq!(err.elapsed(), Some(Duration::from_millis(300)));
    assert_eq!(
        err.field("budget"),
        Some(&FieldValue::Duration(Duration::from_millis(300)))
    );
    assert_eq!(
        err.field("where"),
        Some(&FieldValue::from(deadline_where::DURING_CALL))
    );
}

#[tokio::test(start_paused = true)]
async fn nested_run_never_extends_the_outer_deadline() {
    let outer = Deadline::after(Duration::from_millis(100));
    let start = Instant::now();
    let err = deadline::scope(outer, async {
        Deadline::after(Duration::from_secs(60))
            .run(async {
                assert_eq!(Deadline::current(), Some(outer));
                sleep(Duration::from_secs(10)).await;
            })
            .await
    })
    .await
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::DeadlineExceeded);
    assert_eq!(start.elapsed(), Duration::from_millis(100));
}

#[tokio::test(start_paused = true)]
async fn nested_run_shortens_the_outer_deadline() {
    let outer = Deadline::after(Duration::from_secs(60));
    let inner = Deadline::after(Duration::from_millis(50));
    let start = Instant::now();
    let seen = deadline::scope(outer, async {
        let err = inner.run(sleep(Duration::from_secs(10))).await.unwrap_err();
        assert_eq!(start.elapsed(), Duration::from_millis(50));
        assert!(!err.is_rejection());
        // Leaving the inner scope restores the outer deadline.
        Deadline::current()
    })
    .await;
    assert_eq!(seen, Some(outer));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn multi_thread_runtime_keeps_and_enforces_the_deadline_across_workers() {
    let mut tasks = Vec::new();
    for i in 0..64u32 {
        tasks.push(tokio::spawn(async move {
            // Generous budgets: only "expires eventually" and "fast work succeeds" are checked.
            let d = Deadline::after(Duration::from_secs(30));
            let short = Deadline::after(Duration::from_millis(20));
            let fast = d
                .run(async move {
                    for _ in 0..10 {
                        tokio::task::yield_now().await; // may resume on another worker
                        assert_eq!(Deadline::current(), Some(d));
                    }
                    i
                })
                .await;
            let stuck = short.run(std::future::pending::<()>()).await;
            (fast.unwrap(), stuck.unwrap_err().kind())
        }));
    }
    for (i, task) in tasks.into_iter().enumerate() {
        let (out, kind) = task.await.unwrap();
        assert_eq!(out as usize, i);
        assert_eq!(kind, ErrorKind::DeadlineExceeded);
    }
}

#[test]
fn current_thread_runtime_enforces_the_deadline() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    let err = rt
        .block_on(Deadline::after(Duration::from_millis(5)).run(std::future::pending::<()>()))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::DeadlineExceeded);
}
