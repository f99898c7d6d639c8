//! Which attempt decides a call, what is dropped when, and the deadline.

use std::time::Duration;

use resilience_core::bulkhead::Bulkhead;
use resilience_core::hedge::Hedge;
use resilience_core::outcome;
use resilience_core::retry::RetryBudget;
use resilience_core::{Deadline, Error, ErrorKind, FieldValue, deadline};
use tokio::time::Instant;

use crate::support::{Backend, MS, fixed, one_differs};

#[tokio::test(start_paused = true)]
async fn the_first_success_wins_and_the_slow_attempt_is_dropped_at_once() {
    let hedge = fixed(20 * MS, 1).build().unwrap();
    let backend = Backend::default();
    let bulkhead = Bulkhead::builder().max_concurrent(2).build().unwrap();
    let start = Instant::now();
    let winner = hedge
        .run(|| {
            let call = backend.call(one_differs(0, Duration::from_secs(5), 5 * MS), |_| false);
            // Each attempt holds a bulkhead permit while it runs.
            let guarded = bulkhead.guard(outcome::lift(call));
            async move { guarded.await.and_then(|result| result) }
        })
        .await
        .unwrap();
    assert_eq!(winner, 1, "the hedge answered");
    assert_eq!(
        start.elapsed(),
        25 * MS,
        "hedge sent at 20 ms, answered 5 ms later"
    );
    assert_eq!(
        backend.live(),
        0,
        "the first attempt was dropped with the answer"
    );
    assert_eq!(bulkhead.in_flight(), 0, "and its permit released");
    assert_eq!(backend.calls(), 2);
    let snapshot = hedge.snapshot();
    assert_eq!((snapshot.sent, snapshot.won), (1, 1));
}

#[tokio::test(start_paused = true)]
async fn a_call_answered_before_the_delay_sends_no_hedge() {
    let hedge = fixed(20 * MS, 3).build().unwrap();
    let backend = Backend::default();
    let answer = hedge
        .run(|| backend.call(|_| 19 * MS, |_| false))
        .await
        .unwrap();
    assert_eq!(answer, 0);
    assert_eq!(backend.calls(), 1);
    // An answer on the first poll arms no timer at all.
    assert_eq!(hedge.run(|| async { Ok::<_, Error>(7) }).await.unwrap(), 7);
    assert_eq!(hedge.snapshot().sent, 0);
}

#[tokio::test(start_paused = true)]
async fn hedges_go_out_one_delay_apart_up_to_max_hedges() {
    let hedge = fixed(10 * MS, 3).build().unwrap();
    let backend = Backend::default();
    let start = Instant::now();
    let started = std::sync::Mutex::new(Vec::new());
    let answer = hedge
        .run(|| {
            started.lock().unwrap().push(start.elapsed());
            backend.call(one_differs(3, MS, Duration::from_secs(1)), |_| false)
        })
        .await
        .unwrap();
    assert_eq!(answer, 3, "the third hedge answered");
    assert_eq!(
        *started.lock().unwrap(),
        [Duration::ZERO, 10 * MS, 20 * MS, 30 * MS]
    );
    assert_eq!(start.elapsed(), 31 * MS);
    assert_eq!(backend.live(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_transient_failure_waits_for_the_hedges_in_flight() {
    let hedge = fixed(10 * MS, 1).build().unwrap();
    let backend = Backend::default();
    // The first attempt fails at 15 ms, after the hedge went out at 10 ms; the hedge
    // answers at 30 ms.
    let answer = hedge
        .run(|| backend.call(one_differs(0, 15 * MS, 20 * MS), |n| n == 0))
        .await
        .unwrap();
    assert_eq!(answer, 1);
}

#[tokio::test(start_paused = true)]
async fn a_failure_with_nothing_else_in_flight_ends_the_call_without_a_hedge() {
    let hedge = fixed(10 * MS, 2).build().unwrap();
    let backend = Backend::default();
    let err = hedge
        .run(|| backend.call(|_| 5 * MS, |_| true))
        .await
        .unwrap_err();
    assert_eq!(err.field("call"), Some(&FieldValue::U64(0)));
    assert_eq!(backend.calls(), 1, "hedging is not a retry");
}

#[tokio::test(start_paused = true)]
async fn when_every_attempt_fails_the_last_failure_ends_the_call_with_the_hedges_counted() {
    let hedge = fixed(10 * MS, 1).build().unwrap();
    let backend = Backend::default();
    let err = hedge
        .run(|| backend.call(one_differs(0, 30 * MS, 5 * MS), |_| true))
        .await
        .unwrap_err();
    assert_eq!(
        err.field("call"),
        Some(&FieldValue::U64(0)),
        "the last to fail: {err}"
    );
    assert_eq!(err.field("hedges"), Some(&FieldValue::U64(1)));
}

#[tokio::test(start_paused = true)]
async fn a_permanent_or_benign_outcome_decides_at_once() {
    let hedge = fixed(10 * MS, 1).build().unwrap();
    let backend = Backend::default();
    let start = Instant::now();
    // The hedge gets a benign answer (the request is at fault) at 12 ms; the first
    // attempt would have answered at 50 ms.
    let err = hedge
        .run(|| {
            let call = backend.call(one_differs(0, 50 * MS, 2 * MS), |_| false);
            async move {
                match call.await {
                    Ok(0) => Ok(0),
                    _ => Err(Error::new(ErrorKind::InvalidRequest)),
                }
            }
        })
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidRequest);
    assert_eq!(start.elapsed(), 12 * MS);
    assert_eq!(backend.live(), 0);
}

#[tokio::test(start_paused = true)]
async fn an_empty_budget_never_cancels_a_hedge_in_flight() {
    // One retry in the budget: the first hedge goes out, the second is refused.
    let budget = RetryBudget::builder()
        .ratio(1.0)
        .min_per_sec(0)
        .build()
        .unwrap();
    let hedge = Hedge::builder()
        .delay(10 * MS)
        .max_hedges(2)
        .budget(budget.clone())
        .deposit(false)
        .build()
        .unwrap();
    budget.deposit();
    let backend = Backend::default();
    let answer = hedge
        .run(|| backend.call(one_differs(0, Duration::from_secs(1), 40 * MS), |_| false))
        .await
        .unwrap();
    assert_eq!(
        answer, 1,
        "the hedge sent before the budget ran dry answered"
    );
    let snapshot = hedge.snapshot();
    assert_eq!((snapshot.sent, snapshot.refused, snapshot.won), (1, 1, 1));
    assert_eq!(backend.calls(), 2);
}

#[tokio::test(start_paused = true)]
async fn no_hedge_goes_out_past_the_deadline_and_the_call_ends_at_it() {
    let hedge = fixed(20 * MS, 3).build().unwrap();
    let backend = Backend::default();
    let start = Instant::now();
    // The call reads the ambient deadline when it starts, so it starts inside the scope.
    let err = deadline::scope(Deadline::after(30 * MS), async {
        hedge
            .run(|| backend.call(|_| Duration::from_secs(1), |_| false))
            .await
    })
    .await
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::DeadlineExceeded);
    assert!(!err.is_rejection(), "attempts were running");
    assert_eq!(start.elapsed(), 30 * MS);
    assert_eq!(
        backend.calls(),
        2,
        "one hedge at 20 ms; the next (40 ms) is past the deadline"
    );
    assert_eq!(backend.live(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_passed_deadline_fails_the_call_without_an_attempt() {
    let hedge = fixed(20 * MS, 1).build().unwrap();
    let backend = Backend::default();
    let err = deadline::scope(Deadline::after(Duration::ZERO), async {
        hedge.run(|| backend.call(|_| MS, |_| false)).await
    })
    .await
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::DeadlineExceeded);
    assert!(err.is_rejection());
    assert_eq!(backend.calls(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_percentile_delay_waits_for_min_samples_then_follows_the_latencies() {
    let hedge = Hedge::builder()
        .percentile(0.5)
        .min_samples(10)
        .no_budget()
        .build()
        .unwrap();
    let backend = Backend::default();
    for _ in 0..9 {
        hedge
            .run(|| backend.call(|_| 40 * MS, |_| false))
            .await
            .unwrap();
    }
    assert_eq!(hedge.delay(), None, "nine samples: no delay yet");
    hedge
        .run(|| backend.call(|_| 40 * MS, |_| false))
        .await
        .unwrap();
    let delay = hedge.delay().unwrap();
    assert!(delay > 40 * MS && delay <= 50 * MS, "{delay:?}");
    assert_eq!(hedge.snapshot().sent, 0);
    assert_eq!(hedge.snapshot().samples, 10);
    // A call slower than the median now gets a hedge.
    let start = Instant::now();
    hedge
        .run(|| backend.call(one_differs(10, Duration::from_secs(1), 40 * MS), |_| false))
        .await
        .unwrap();
    // The timer wheel fires on the next whole millisecond.
    let took = start.elapsed();
    assert!(
        took >= delay + 40 * MS && took <= delay + 41 * MS,
        "{took:?}"
    );
    assert_eq!(hedge.snapshot().sent, 1);
}
