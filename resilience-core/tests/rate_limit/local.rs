//! The unkeyed limiter under paused time: refusals and their hints, weighted requests,
//! waiting for a turn, the deadline, and cancellation.

use std::time::Duration;

use resilience_core::deadline::{self, Deadline};
use resilience_core::rate_limit::{FIELD_LIMIT, FIELD_RESET, FIELD_WINDOW, RateLimiter};
use resilience_core::{Class, ErrorKind, FieldValue, Primitive};
use tokio::time::Instant;

const MS: Duration = Duration::from_millis(1);

/// 10 per second (one unit every 100 ms), 3 at once.
fn ten_per_second(max_wait: Duration) -> RateLimiter {
    RateLimiter::builder()
        .name("api")
        .rate(10.0)
        .burst(3)
        .max_wait(max_wait)
        .build()
        .unwrap()
}

#[tokio::test(start_paused = true)]
async fn an_exhausted_limit_refuses_with_the_exact_wait_and_the_limit_in_fields() {
    let limiter = ten_per_second(Duration::ZERO);
    for left in [2, 1, 0] {
        assert_eq!(limiter.try_acquire().unwrap().remaining(), left);
    }
    tokio::time::advance(30 * MS).await;
    let err = limiter.try_acquire().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::RateLimited);
    assert!(err.is_rejection());
    assert_eq!(err.primitive(), Some(Primitive::RateLimit));
    assert_eq!(err.instance(), Some("api"));
    assert_eq!(err.retry_after(), Some(70 * MS));
    assert_eq!(
        err.effective_class(),
        Class::Transient {
            retry_after: Some(70 * MS)
        }
    );
    assert_eq!(err.field(FIELD_LIMIT), Some(&FieldValue::U64(3)));
    assert_eq!(
        err.field(FIELD_WINDOW),
        Some(&FieldValue::Duration(300 * MS))
    );
    assert_eq!(
        err.field(FIELD_RESET),
        Some(&FieldValue::Duration(270 * MS))
    );

    tokio::time::advance(70 * MS).await;
    let grant = limiter.try_acquire().unwrap();
    assert_eq!(grant.remaining(), 0);
    assert_eq!(grant.reset(), 300 * MS);
}

#[tokio::test(start_paused = true)]
async fn weighted_requests_take_n_units_and_more_than_the_burst_is_refused_for_good() {
    let limiter = ten_per_second(Duration::ZERO);
    assert_eq!(limiter.try_acquire_n(2).unwrap().remaining(), 1);
    let err = limiter.try_acquire_n(2).unwrap_err();
    assert_eq!(err.retry_after(), Some(100 * MS));
    assert_eq!(limiter.available(), 1, "a refusal takes nothing");

    for n in [0, 4] {
        let err = limiter.try_acquire_n(n).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::RateLimited, "{n}");
        assert_eq!(err.retry_after(), None, "no wait will ever do ({n})");
        assert_eq!(err.effective_class(), Class::Permanent, "{n}");
    }
}

#[tokio::test(start_paused = true)]
async fn acquire_without_max_wait_refuses_at_once() {
    let limiter = ten_per_second(Duration::ZERO);
    limiter.try_acquire_n(3).unwrap();
    let start = Instant::now();
    let err = limiter.acquire().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::RateLimited);
    assert_eq!(start.elapsed(), Duration::ZERO);
}

#[tokio::test(start_paused = true)]
async fn acquire_waits_for_its_turn_and_waiters_are_served_in_call_order() {
    let limiter = ten_per_second(Duration::from_secs(1));
    limiter.try_acquire_n(3).unwrap();
    let start = Instant::now();
    let first = limiter.acquire();
    let second = limiter.acquire();
    let third = limiter.acquire();
    assert!(first.is_pending() && second.is_pending() && third.is_pending());
    // Awaited in reverse order, still served in call order.
    let third = third.await.unwrap();
    assert_eq!(start.elapsed(), 300 * MS);
    let second = second.await.unwrap();
    let first = first.await.unwrap();
    assert_eq!(third.waited(), 300 * MS);
    assert_eq!(
        second.waited(),
        300 * MS,
        "it waited while the third was awaited"
    );
    assert_eq!(first.remaining(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_turn_beyond_max_wait_is_refused_at_once_without_booking() {
    let limiter = ten_per_second(150 * MS);
    limiter.try_acquire_n(3).unwrap();
    let _booked = limiter.acquire(); // waits 100 ms
    let start = Instant::now();
    let err = limiter.acquire().await.unwrap_err(); // would wait 200 ms
    assert_eq!(err.kind(), ErrorKind::RateLimited);
    assert_eq!(err.retry_after(), Some(200 * MS));
    assert_eq!(start.elapsed(), Duration::ZERO);
}

#[tokio::test(start_paused = true)]
async fn a_turn_after_the_deadline_is_deadline_exceeded_at_once() {
    let limiter = ten_per_second(Duration::from_secs(1));
    limiter.try_acquire_n(3).unwrap();
    let start = Instant::now();
    let err = deadline::scope(Deadline::after(50 * MS), async { limiter.acquire().await })
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::DeadlineExceeded);
    assert!(err.is_rejection());
    assert_eq!(err.primitive(), Some(Primitive::RateLimit));
    assert_eq!(
        start.elapsed(),
        Duration::ZERO,
        "no wait that cannot end well"
    );
    // Nothing was booked: a caller with time to spare waits only its own turn.
    let grant = deadline::scope(Deadline::after(Duration::from_secs(5)), limiter.acquire())
        .await
        .unwrap();
    assert_eq!(grant.waited(), 100 * MS);
}

#[tokio::test(start_paused = true)]
async fn an_expired_deadline_refuses_a_caller_that_would_wait() {
    let limiter = ten_per_second(Duration::from_secs(1));
    limiter.try_acquire_n(3).unwrap();
    let expired = Deadline::after(Duration::ZERO);
    let err = deadline::scope(expired, async { limiter.acquire().await })
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::DeadlineExceeded);
    // Room now: the deadline is the deadline layer's business, not the limiter's.
    tokio::time::advance(100 * MS).await;
    assert!(
        deadline::scope(expired, async { limiter.acquire().await })
            .await
            .is_ok()
    );
}

#[tokio::test(start_paused = true)]
async fn a_waiter_dropped_before_its_turn_gives_the_turn_back() {
    let limiter = ten_per_second(Duration::from_secs(1));
    limiter.try_acquire_n(3).unwrap();
    let gone = limiter.acquire();
    assert!(gone.is_pending());
    drop(gone);
    let start = Instant::now();
    let grant = limiter.acquire().await.unwrap();
    assert_eq!(start.elapsed(), 100 * MS, "the first turn, not the second");
    assert_eq!(grant.waited(), 100 * MS);
}

#[tokio::test(start_paused = true)]
async fn call_runs_the_operation_only_when_admitted() {
    let limiter = ten_per_second(Duration::ZERO);
    limiter.try_acquire_n(3).unwrap();
    let mut ran = false;
    let err = limiter.call(async { ran = true }).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::RateLimited);
    assert!(!ran);
    tokio::time::advance(100 * MS).await;
    assert_eq!(limiter.call(async { 42 }).await.unwrap(), 42);
}

#[tokio::test(start_paused = true)]
async fn clones_share_one_budget_and_the_snapshot_reports_it() {
    let limiter = ten_per_second(Duration::ZERO);
    let clone = limiter.clone();
    assert!(clone.same_as(&limiter));
    clone.try_acquire_n(2).unwrap();
    let snapshot = limiter.snapshot();
    assert_eq!(snapshot.name, "api");
    assert_eq!(snapshot.burst, 3);
    assert_eq!(snapshot.available, 1);
    assert!((snapshot.rate - 10.0).abs() < 1e-9);
    tokio::time::advance(Duration::from_secs(10)).await;
    assert_eq!(
        limiter.available(),
        3,
        "a quiet limit refills to its burst, no more"
    );
}
