//! One test per trigger: what it answers, what it lets through — and that no trigger
//! ever replaces a success.

use std::time::Duration;

use resilience_core::classify::{self, TransientErrors};
use resilience_core::fallback::{Fallback, FallbackBuilder, Used};
use resilience_core::{Class, Error, ErrorKind, outcome};

type Builder = FallbackBuilder<&'static str, Error>;

fn builder() -> Builder {
    Fallback::builder().value("fallback")
}

/// What `fallback` makes of an operation failing with `err`.
async fn answer(
    fallback: &Fallback<&'static str, Error>,
    err: Error,
) -> Result<&'static str, Error> {
    fallback.run((), async { Err(err) }).await
}

/// Whether `fallback` answers an operation failing with a plain `kind` error.
async fn answers(fallback: &Fallback<&'static str, Error>, kind: ErrorKind) -> bool {
    matches!(answer(fallback, Error::new(kind)).await, Ok("fallback"))
}

/// Every trigger, each of which must let a success through untouched.
fn every_trigger() -> Vec<(&'static str, Builder)> {
    vec![
        ("default", builder()),
        (
            "on_kinds",
            builder().on_kinds(ErrorKind::ALL.iter().copied()),
        ),
        (
            "on_classes",
            builder().on_classes([
                Class::Success,
                Class::TRANSIENT,
                Class::Permanent,
                Class::Benign,
            ]),
        ),
        ("on_rejections", builder().on_rejections()),
        ("on", builder().on(|_| true)),
    ]
}

#[tokio::test]
async fn no_trigger_ever_replaces_a_success() {
    for (trigger, b) in every_trigger() {
        let fallback = b.build().unwrap();
        let ok = fallback.run((), async { Ok::<_, Error>("fresh") }).await;
        assert_eq!(ok.unwrap(), "fresh", "{trigger}");
        let answered = fallback
            .guard(
                (),
                TransientErrors,
                outcome::lift(async { Ok::<_, Error>("fresh") }),
            )
            .await;
        assert_eq!(answered.fallback, None, "{trigger}");
    }
}

#[tokio::test]
async fn an_answer_its_classifier_calls_a_success_is_not_replaced_even_if_it_is_an_error() {
    // A classifier that calls "not found" a success: the fallback keeps out of it.
    let lenient = classify::from_fn(|_: &Result<&'static str, Error>| Class::Success);
    let fallback = builder().on(|_| true).build().unwrap();
    let answered = fallback
        .guard(
            (),
            lenient,
            outcome::lift(async { Err(Error::new(ErrorKind::Inner)) }),
        )
        .await;
    assert_eq!(answered.fallback, None);
    assert!(matches!(answered.outcome, Ok(Err(_))));
}

#[tokio::test]
async fn the_default_trigger_answers_dependency_failures_not_benign_ones() {
    let fallback = builder().build().unwrap();
    assert!(answers(&fallback, ErrorKind::Inner).await, "Inner");
    assert!(
        answers(&fallback, ErrorKind::DeadlineExceeded).await,
        "DeadlineExceeded"
    );
    assert!(
        answers(&fallback, ErrorKind::CircuitOpen).await,
        "CircuitOpen"
    );
    // An invalid request is the caller's problem: it goes through.
    let benign = answer(&fallback, Error::new(ErrorKind::InvalidRequest)).await;
    assert_eq!(benign.unwrap_err().kind(), ErrorKind::InvalidRequest);
}

#[tokio::test]
async fn on_kinds_answers_only_the_kinds_named() {
    let fallback = builder()
        .on_kinds([ErrorKind::CircuitOpen, ErrorKind::Timeout])
        .build()
        .unwrap();
    assert!(answers(&fallback, ErrorKind::Timeout).await, "Timeout");
    assert!(
        answers(&fallback, ErrorKind::CircuitOpen).await,
        "CircuitOpen"
    );
    let through = answer(&fallback, Error::new(ErrorKind::BulkheadFull)).await;
    assert_eq!(through.unwrap_err().kind(), ErrorKind::BulkheadFull);
    // A foreign error is `Inner`.
    let io = Fallback::<u8, std::io::Error>::builder()
        .value(0)
        .on_kinds([ErrorKind::Inner])
        .build()
        .unwrap();
    assert_eq!(
        io.run((), async { Err(std::io::Error::other("reset")) })
            .await
            .unwrap(),
        0
    );
}

#[tokio::test]
async fn on_classes_answers_only_the_classes_named_whatever_their_hint() {
    let fallback = builder().on_classes([Class::TRANSIENT]).build().unwrap();
    let hinted = Error::new(ErrorKind::Inner).with_class(Class::Transient {
        retry_after: Some(Duration::from_secs(1)),
    });
    assert_eq!(answer(&fallback, hinted).await.unwrap(), "fallback");
    let permanent = Error::new(ErrorKind::Inner).with_class(Class::Permanent);
    assert!(answer(&fallback, permanent).await.is_err());
    // Benign failures may be chosen explicitly.
    let benign = builder().on_classes([Class::Benign]).build().unwrap();
    assert!(
        answers(&benign, ErrorKind::InvalidRequest).await,
        "InvalidRequest"
    );
}

#[tokio::test]
async fn on_rejections_answers_only_when_the_operation_was_never_called() {
    let fallback = builder().on_rejections().build().unwrap();
    assert!(
        answers(&fallback, ErrorKind::BulkheadFull).await,
        "BulkheadFull"
    );
    let ran = Error::new(ErrorKind::DeadlineExceeded).during_call();
    assert_eq!(
        answer(&fallback, ran).await.unwrap_err().kind(),
        ErrorKind::DeadlineExceeded
    );
    assert!(
        answer(&fallback, Error::new(ErrorKind::Inner))
            .await
            .is_err()
    );
    // A primitive's rejection around the operation, not only inside it.
    let answered = fallback
        .guard((), TransientErrors, async {
            Err::<Result<&str, Error>, _>(Error::new(ErrorKind::CircuitOpen))
        })
        .await;
    assert_eq!(answered.fallback, Some(Used::Value));
}

#[tokio::test]
async fn on_a_predicate_answers_what_it_accepts() {
    let fallback = builder()
        .on(|failure| failure.error().is_some_and(|e| e.field("tenant").is_some()))
        .build()
        .unwrap();
    let tagged = Error::new(ErrorKind::Inner).with_field("tenant", "acme");
    assert_eq!(answer(&fallback, tagged).await.unwrap(), "fallback");
    assert!(
        answer(&fallback, Error::new(ErrorKind::Inner))
            .await
            .is_err()
    );
}
