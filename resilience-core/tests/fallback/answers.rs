//! The answers: a value, a closure of the failure; what the failure view shows.

use resilience_core::classify::{self, TransientErrors};
use resilience_core::fallback::{Fallback, Used};
use resilience_core::{Class, Error, ErrorKind, outcome};

#[tokio::test]
async fn a_closure_answers_from_the_failure() {
    let fallback = Fallback::<String, Error>::builder()
        .with(|failure| format!("degraded: {}", failure.kind().unwrap().as_str()))
        .build()
        .unwrap();
    let answered = fallback
        .guard(
            (),
            TransientErrors,
            outcome::lift(async { Err(Error::new(ErrorKind::Timeout)) }),
        )
        .await;
    assert_eq!(answered.fallback, Some(Used::Computed));
    assert_eq!(answered.outcome.unwrap().unwrap(), "degraded: timeout");
}

#[tokio::test]
async fn an_answer_classified_as_a_failure_is_replaced_and_seen_by_the_closure() {
    // A "503" in `Ok`, as an HTTP classifier sees it.
    let status = classify::from_fn(|result: &Result<u16, Error>| match result {
        Ok(503) => Class::TRANSIENT,
        _ => Class::Success,
    });
    let fallback = Fallback::<u16, Error>::builder()
        .with(|failure| {
            assert_eq!(failure.kind(), None, "no error, an answer");
            failure.response().map_or(0, |status| status + 1)
        })
        .build()
        .unwrap();
    let answered = fallback
        .guard((), status, outcome::lift(async { Ok(503) }))
        .await;
    assert_eq!(answered.outcome.unwrap().unwrap(), 504);
    let fine = fallback
        .guard((), status, outcome::lift(async { Ok(200) }))
        .await;
    assert_eq!((fine.outcome.unwrap().unwrap(), fine.fallback), (200, None));
}
