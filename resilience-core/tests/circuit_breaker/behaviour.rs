//! The breaker's documented behaviours, one per test, under paused time.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use resilience_core::circuit_breaker::{CircuitBreaker, State, StateChange};
use resilience_core::{Class, Error, ErrorKind, Primitive, classify};

use crate::ms;

fn fail(breaker: &CircuitBreaker, n: usize) {
    for _ in 0..n {
        breaker.try_acquire().unwrap().record_failure();
    }
}

#[tokio::test(start_paused = true)]
async fn rejection_names_the_breaker_and_the_time_until_half_open() {
    let breaker = CircuitBreaker::builder()
        .name("payments")
        .count_window(2)
        .open_duration(Duration::from_secs(10))
        .build()
        .unwrap();
    fail(&breaker, 2);
    tokio::time::advance(Duration::from_secs(3)).await;
    let err = breaker.try_acquire().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::CircuitOpen);
    assert!(err.is_rejection());
    assert_eq!(err.primitive(), Some(Primitive::CircuitBreaker));
    assert_eq!(err.instance(), Some("payments"));
    assert_eq!(err.retry_after(), Some(Duration::from_secs(7)));
    assert_eq!(breaker.snapshot().retry_after, Some(Duration::from_secs(7)));
}

#[tokio::test(start_paused = true)]
async fn benign_outcomes_cancellations_and_inner_rejections_are_not_counted() {
    let breaker = CircuitBreaker::builder().count_window(4).build().unwrap();
    breaker.try_acquire().unwrap().record(Class::Benign);
    drop(breaker.try_acquire().unwrap());
    let inner_rejection = Err::<(), _>(Error::new(ErrorKind::BulkheadFull));
    breaker
        .try_acquire()
        .unwrap()
        .record_result(&classify::TransientErrors, &inner_rejection);
    let result = breaker
        .call(async { Err::<(), _>(Error::new(ErrorKind::BulkheadFull)) })
        .await;
    assert_eq!(result.unwrap_err().kind(), ErrorKind::BulkheadFull);
    assert_eq!(breaker.snapshot().calls, 0);
    // A classifier decides: here a "not found" is benign and does not count either.
    let lookup = classify::from_fn(|r: &Result<Option<u8>, std::io::Error>| match r {
        Ok(None) => Class::Benign,
        Ok(Some(_)) => Class::Success,
        Err(_) => Class::TRANSIENT,
    });
    assert_eq!(
        breaker
            .call_with(&lookup, async { Ok(None) })
            .await
            .unwrap(),
        None
    );
    assert_eq!(breaker.snapshot().calls, 0);
    breaker
        .call_with(&lookup, async { Ok(Some(1)) })
        .await
        .unwrap();
    assert_eq!(breaker.snapshot().calls, 1);
}

#[tokio::test(start_paused = true)]
async fn the_operations_own_error_comes_back_as_inner() {
    let breaker = CircuitBreaker::builder().build().unwrap();
    let err = breaker
        .call(async { Err::<(), _>(std::io::Error::other("boom")) })
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Inner);
    assert_eq!(
        err.downcast_ref::<std::io::Error>().unwrap().to_string(),
        "boom"
    );
    assert_eq!(breaker.snapshot().failed_calls, 1);
}

#[tokio::test(start_paused = true)]
async fn rates_wait_for_minimum_calls() {
    let breaker = CircuitBreaker::builder()
        .count_window(10)
        .minimum_calls(5)
        .build()
        .unwrap();
    fail(&breaker, 4);
    assert_eq!(breaker.state(), State::Closed);
    // The fifth call is a success, but 4 of 5 failed: over 50 %.
    breaker.try_acquire().unwrap().record_success();
    assert_eq!(breaker.state(), State::Open);
}

#[tokio::test(start_paused = true)]
async fn slow_calls_trip_the_breaker() {
    let breaker = CircuitBreaker::builder()
        .count_window(4)
        .without_failure_rate()
        .slow_calls(ms(100), 0.5)
        .build()
        .unwrap();
    for slow in [false, true, false, true] {
        let permit = breaker.try_acquire().unwrap();
        if slow {
            tokio::time::advance(ms(100)).await;
        }
        permit.record_success();
    }
    let snap = breaker.snapshot();
    assert_eq!(snap.slow_calls, 2);
    assert_eq!(snap.slow_call_rate, Some(0.5));
    assert_eq!(breaker.state(), State::Open);
}

#[tokio::test(start_paused = true)]
async fn consecutive_failures_trip_without_waiting_for_the_minimum() {
    let breaker = CircuitBreaker::builder()
        .count_window(100)
        .consecutive_failures(3)
        .build()
        .unwrap();
    fail(&breaker, 2);
    breaker.try_acquire().unwrap().record_success();
    fail(&breaker, 2);
    assert_eq!(breaker.state(), State::Closed);
    fail(&breaker, 1);
    assert_eq!(breaker.state(), State::Open);
}

#[tokio::test(start_paused = true)]
async fn a_failed_probe_reopens_and_the_open_duration_grows_up_to_its_cap() {
    let breaker = CircuitBreaker::builder()
        .count_window(1)
        .open_duration(Duration::from_secs(1))
        .open_duration_growth(3.0, Duration::from_secs(5))
        .half_open_calls(1)
        .build()
        .unwrap();
    fail(&breaker, 1);
    for expected in [1, 3, 5, 5] {
        let hint = breaker.try_acquire().unwrap_err().retry_after();
        assert_eq!(hint, Some(Duration::from_secs(expected)));
        tokio::time::advance(Duration::from_secs(expected)).await;
        breaker.try_acquire().unwrap().record_failure();
        assert_eq!(breaker.state(), State::Open);
    }
    // Closing resets the growth.
    tokio::time::advance(Duration::from_secs(5)).await;
    breaker.try_acquire().unwrap().record_success();
    assert_eq!(breaker.state(), State::Closed);
    fail(&breaker, 1);
    assert_eq!(
        breaker.try_acquire().unwrap_err().retry_after(),
        Some(Duration::from_secs(1))
    );
}

#[tokio::test(start_paused = true)]
async fn a_hung_probe_cannot_wedge_half_open() {
    let breaker = CircuitBreaker::builder()
        .count_window(1)
        .open_duration(Duration::from_secs(1))
        .half_open_calls(1)
        .max_half_open_duration(Duration::from_secs(30))
        .build()
        .unwrap();
    fail(&breaker, 1);
    tokio::time::advance(Duration::from_secs(1)).await;
    let hung = breaker.try_acquire().unwrap();
    tokio::time::advance(Duration::from_secs(29)).await;
    assert!(breaker.try_acquire().is_err());
    assert_eq!(breaker.state(), State::HalfOpen);
    tokio::time::advance(Duration::from_secs(1)).await;
    // Past the limit the breaker re-opens; the hung probe no longer counts.
    let err = breaker.try_acquire().unwrap_err();
    assert_eq!(breaker.state(), State::Open);
    assert!(err.retry_after().is_some());
    hung.record_success();
    assert_eq!(breaker.state(), State::Open);
}

#[tokio::test(start_paused = true)]
async fn force_open_disable_and_reset() {
    let breaker = CircuitBreaker::builder().count_window(1).build().unwrap();
    breaker.force_open();
    assert_eq!(breaker.state(), State::ForcedOpen);
    let err = breaker.try_acquire().unwrap_err();
    assert_eq!(
        (err.kind(), err.retry_after()),
        (ErrorKind::CircuitOpen, None)
    );

    breaker.disable();
    fail(&breaker, 10);
    assert_eq!(breaker.state(), State::Disabled);
    assert_eq!(breaker.snapshot().calls, 0);

    breaker.reset();
    assert_eq!(breaker.state(), State::Closed);
    fail(&breaker, 1);
    assert_eq!(breaker.state(), State::Open);
    breaker.reset();
    assert_eq!(breaker.state(), State::Closed);
    assert_eq!(breaker.snapshot().calls, 0);
}

#[tokio::test(start_paused = true)]
async fn permits_from_before_a_reset_do_not_count() {
    let breaker = CircuitBreaker::builder().count_window(1).build().unwrap();
    let old = breaker.try_acquire().unwrap();
    breaker.reset();
    old.record_failure();
    assert_eq!(breaker.state(), State::Closed);
    assert_eq!(breaker.snapshot().calls, 0);
}

#[tokio::test(start_paused = true)]
async fn time_window_forgets_failures_older_than_the_window() {
    let breaker = CircuitBreaker::builder()
        .time_window_buckets(Duration::from_secs(10), 10)
        .minimum_calls(4)
        .build()
        .unwrap();
    fail(&breaker, 3);
    tokio::time::advance(Duration::from_secs(10)).await;
    fail(&breaker, 1);
    assert_eq!(breaker.snapshot().calls, 1);
    assert_eq!(breaker.state(), State::Closed);
    fail(&breaker, 3);
    assert_eq!(breaker.state(), State::Open);
}

#[tokio::test(start_paused = true)]
async fn the_state_change_hook_sees_every_transition_and_time_in_state() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    let breaker = CircuitBreaker::builder()
        .name("inventory")
        .count_window(1)
        .open_duration(Duration::from_secs(2))
        .half_open_calls(1)
        .on_state_change(move |change: &StateChange| {
            log.lock()
                .unwrap()
                .push((change.from, change.to, change.open_for));
        })
        .build()
        .unwrap();
    fail(&breaker, 1);
    tokio::time::advance(Duration::from_secs(2)).await;
    assert_eq!(breaker.snapshot().time_in_state, Duration::from_secs(2));
    breaker.try_acquire().unwrap().record_success();
    breaker.force_open();
    breaker.reset();
    assert_eq!(
        *seen.lock().unwrap(),
        [
            (State::Closed, State::Open, Some(Duration::from_secs(2))),
            (State::Open, State::HalfOpen, None),
            (State::HalfOpen, State::Closed, None),
            (State::Closed, State::ForcedOpen, None),
            (State::ForcedOpen, State::Closed, None),
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn a_call_takes_its_permit_when_first_polled_not_when_made() {
    let breaker = CircuitBreaker::builder()
        .count_window(1)
        .open_duration(ms(100))
        .half_open_calls(1)
        .build()
        .unwrap();
    fail(&breaker, 1);
    tokio::time::advance(ms(100)).await;
    // Made, not polled: the one half-open probe is still free.
    let made = breaker.call(async { Ok::<_, Error>(1) });
    let probe = breaker.try_acquire().expect("the probe slot is free");
    drop(probe);
    assert_eq!(made.await.unwrap(), 1);
    assert_eq!(breaker.state(), State::Closed);
}
