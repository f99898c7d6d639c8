//! Exact delays under paused time, Retry-After, and what is (not) retried.

use std::time::Duration;

use resilience_core::classify::{self, Class};
use resilience_core::retry::{Backoff, Jitter, RetryPolicy};
use resilience_core::{Error, ErrorKind, FieldValue};

use crate::support::{Attempts, MS, boom, exact};

async fn gaps_of(policy: RetryPolicy) -> (Vec<Duration>, Error) {
    let attempts = Attempts::default();
    let err = policy
        .run(|| {
            attempts.hit();
            async { Err::<(), _>(boom()) }
        })
        .await
        .unwrap_err();
    (attempts.gaps(), err)
}

#[tokio::test(start_paused = true)]
async fn constant_backoff_waits_exactly_the_delay() {
    let policy = exact(Backoff::constant(250 * MS), 4).build().unwrap();
    let (gaps, err) = gaps_of(policy).await;
    assert_eq!(gaps, [250 * MS; 3]);
    assert_eq!(err.attempts(), Some(4));
    assert_eq!(
        err.field("retry_stop"),
        Some(&FieldValue::from("max_attempts"))
    );
}

#[tokio::test(start_paused = true)]
async fn linear_backoff_grows_by_the_step() {
    let policy = exact(Backoff::linear(100 * MS, 50 * MS), 5)
        .build()
        .unwrap();
    assert_eq!(
        gaps_of(policy).await.0,
        [100 * MS, 150 * MS, 200 * MS, 250 * MS]
    );
}

#[tokio::test(start_paused = true)]
async fn exponential_backoff_multiplies_and_stops_at_the_cap() {
    let policy = exact(Backoff::exponential_with_factor(100 * MS, 3.0), 5)
        .max_delay(1000 * MS)
        .build()
        .unwrap();
    assert_eq!(
        gaps_of(policy).await.0,
        [100 * MS, 300 * MS, 900 * MS, 1000 * MS]
    );
}

#[tokio::test(start_paused = true)]
async fn equal_jitter_keeps_at_least_half_the_delay() {
    let policy = exact(Backoff::constant(400 * MS), 20)
        .jitter(Jitter::Equal)
        .build()
        .unwrap();
    for gap in gaps_of(policy).await.0 {
        assert!((200 * MS..=400 * MS).contains(&gap), "{gap:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn the_same_seed_gives_the_same_delays() {
    let seeded = || {
        exact(Backoff::exponential(10 * MS), 6)
            .jitter(Jitter::Decorrelated)
            .seed(42)
            .build()
            .unwrap()
    };
    let (a, _) = gaps_of(seeded()).await;
    let (b, _) = gaps_of(seeded()).await;
    assert_eq!(a, b);
    assert_eq!(a.len(), 5);
}

#[tokio::test(start_paused = true)]
async fn retry_after_is_honoured_over_a_shorter_backoff() {
    let policy = exact(Backoff::constant(100 * MS), 3).build().unwrap();
    let attempts = Attempts::default();
    let result = policy
        .run(|| {
            let n = attempts.hit();
            async move {
                if n == 1 {
                    Err(boom().with_retry_after(Duration::from_secs(2)))
                } else {
                    Ok(n)
                }
            }
        })
        .await;
    assert_eq!(result.unwrap(), 2);
    assert_eq!(attempts.gaps(), [Duration::from_secs(2)]);
}

#[tokio::test(start_paused = true)]
async fn a_hint_longer_than_max_retry_after_is_returned_at_once() {
    let policy = exact(Backoff::constant(100 * MS), 3)
        .max_retry_after(Duration::from_secs(5))
        .build()
        .unwrap();
    let (gaps, err) =
        gaps_of_with_error(policy, || boom().with_retry_after(Duration::from_secs(30))).await;
    assert!(gaps.is_empty());
    assert_eq!(err.retry_after(), Some(Duration::from_secs(30)));
    assert_eq!(
        err.field("retry_stop"),
        Some(&FieldValue::from("retry_after_too_long"))
    );
}

async fn gaps_of_with_error(
    policy: RetryPolicy,
    make: impl Fn() -> Error,
) -> (Vec<Duration>, Error) {
    let attempts = Attempts::default();
    let err = policy
        .run(|| {
            attempts.hit();
            let err = make();
            async move { Err::<(), _>(err) }
        })
        .await
        .unwrap_err();
    (attempts.gaps(), err)
}

#[tokio::test(start_paused = true)]
async fn rejections_without_a_hint_are_not_retried() {
    let policy = exact(Backoff::constant(MS), 5).build().unwrap();
    for kind in [ErrorKind::BulkheadFull, ErrorKind::CircuitOpen] {
        let (gaps, err) = gaps_of_with_error(policy.clone(), || Error::new(kind)).await;
        assert!(gaps.is_empty(), "{kind:?}");
        assert_eq!(err.kind(), kind);
        assert_eq!(
            err.field("retry_stop"),
            Some(&FieldValue::from("not_retryable"))
        );
    }
}

#[tokio::test(start_paused = true)]
async fn a_rejection_whose_hint_fits_is_retried_after_the_hint() {
    let policy = exact(Backoff::constant(MS), 3).build().unwrap();
    let (gaps, err) = gaps_of_with_error(policy, || {
        Error::new(ErrorKind::CircuitOpen).with_retry_after(300 * MS)
    })
    .await;
    assert_eq!(gaps, [300 * MS, 300 * MS]);
    assert_eq!(err.attempts(), Some(3));
}

#[tokio::test(start_paused = true)]
async fn permanent_benign_and_deadline_errors_are_not_retried() {
    let policy = exact(Backoff::constant(MS), 5).build().unwrap();
    let cases: [fn() -> Error; 3] = [
        || boom().with_class(Class::Permanent),
        || boom().with_class(Class::Benign).with_retry_after(MS),
        || Error::new(ErrorKind::DeadlineExceeded).during_call(),
    ];
    for make in cases {
        let (gaps, err) = gaps_of_with_error(policy.clone(), make).await;
        assert!(gaps.is_empty(), "{err}");
        assert_eq!(err.attempts(), Some(1));
    }
}

#[tokio::test(start_paused = true)]
async fn a_custom_classifier_decides_what_is_retried() {
    let policy = exact(Backoff::constant(MS), 4).build().unwrap();
    let attempts = Attempts::default();
    // `Ok(None)` is "not there yet": transient, although it is an `Ok`.
    let classifier = classify::from_fn(|r: &Result<Option<u8>, std::io::Error>| match r {
        Ok(Some(_)) => Class::Success,
        Ok(None) => Class::TRANSIENT,
        Err(_) => Class::Permanent,
    });
    let value = policy
        .run_with(&classifier, || {
            let n = attempts.hit();
            async move { Ok((n == 3).then_some(7)) }
        })
        .await
        .unwrap();
    assert_eq!((value, attempts.count()), (Some(7), 3));
}

#[derive(Debug)]
enum PayError {
    Unavailable,
    Resilience(Error),
}

impl From<Error> for PayError {
    fn from(err: Error) -> Self {
        PayError::Resilience(err)
    }
}

#[tokio::test(start_paused = true)]
async fn run_typed_keeps_the_callers_error_and_converts_only_its_own() {
    let policy = exact(Backoff::constant(MS), 2)
        .attempt_timeout(50 * MS)
        .build()
        .unwrap();
    let err = policy
        .run_typed(|| async { Err::<(), _>(PayError::Unavailable) })
        .await
        .unwrap_err();
    assert!(matches!(err, PayError::Unavailable));

    let err = policy
        .run_typed(|| async {
            tokio::time::sleep(Duration::from_secs(1)).await;
            Ok::<(), PayError>(())
        })
        .await
        .unwrap_err();
    match err {
        PayError::Resilience(e) => {
            assert_eq!(e.kind(), ErrorKind::Timeout);
            assert_eq!(e.attempts(), Some(2), "timeouts are transient: retried");
        }
        other => panic!("expected a timeout, got {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn run_typed_enriches_a_resilience_error() {
    let policy = exact(Backoff::constant(MS), 3).build().unwrap();
    let err: Error = policy
        .run_typed(|| async { Err::<(), _>(boom()) })
        .await
        .unwrap_err();
    assert_eq!(err.attempts(), Some(3));
    assert_eq!(
        err.field("retry_stop"),
        Some(&FieldValue::from("max_attempts"))
    );
}

#[tokio::test(start_paused = true)]
async fn foreign_errors_stay_downcastable() {
    let policy = exact(Backoff::constant(MS), 2).build().unwrap();
    let err = policy
        .run(|| async { Err::<(), _>(std::io::Error::other("disk")) })
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Inner);
    assert_eq!(
        err.downcast_ref::<std::io::Error>().unwrap().to_string(),
        "disk"
    );
}

/// The hint came from the classifier, not from the error: the error that stops the call
/// carries it all the same, for the caller to honour.
#[tokio::test(start_paused = true)]
async fn a_classifier_hint_longer_than_max_retry_after_is_kept_on_the_error() {
    let policy = exact(Backoff::constant(100 * MS), 3)
        .max_retry_after(Duration::from_secs(5))
        .build()
        .unwrap();
    let classifier = classify::from_fn(|r: &Result<(), std::io::Error>| match r {
        Ok(()) => Class::Success,
        Err(_) => Class::Transient {
            retry_after: Some(Duration::from_secs(30)),
        },
    });
    let attempts = Attempts::default();
    let err = policy
        .run_with(&classifier, || {
            attempts.hit();
            async { Err::<(), _>(std::io::Error::other("busy")) }
        })
        .await
        .unwrap_err();
    assert!(attempts.gaps().is_empty());
    assert_eq!(err.retry_after(), Some(Duration::from_secs(30)));
    assert_eq!(
        err.field("retry_stop"),
        Some(&FieldValue::from("retry_after_too_long"))
    );
    // A hint the error carries itself wins over the classifier's.
    let own = classify::from_fn(|_: &Result<(), Error>| Class::Transient {
        retry_after: Some(Duration::from_secs(30)),
    });
    let err = policy
        .run_with(&own, || async {
            Err::<(), _>(boom().with_retry_after(Duration::from_secs(60)))
        })
        .await
        .unwrap_err();
    assert_eq!(err.retry_after(), Some(Duration::from_secs(60)));
}
