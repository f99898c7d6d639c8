//! The error model: display, context through `BoxError` round trips, sources, rejections.

use std::error::Error as _;
use std::fmt;
use std::time::Duration;

use resilience_core::{BoxError, Class, Error, ErrorKind, FieldValue, Primitive};

#[derive(Debug, PartialEq)]
struct CardDeclined {
    code: u16,
}

impl fmt::Display for CardDeclined {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "card declined with code {}", self.code)
    }
}

impl std::error::Error for CardDeclined {}

#[test]
fn each_kind_displays_its_description_alone_when_no_context_is_set() {
    let expected = [
        (ErrorKind::CircuitOpen, "circuit breaker is open"),
        (ErrorKind::BulkheadFull, "bulkhead is full"),
        (ErrorKind::DeadlineExceeded, "deadline exceeded"),
        (ErrorKind::Timeout, "attempt timed out"),
        (
            ErrorKind::RetryBudgetExhausted,
            "operation failed and the retry budget is exhausted",
        ),
        (
            ErrorKind::IdempotencyConflict,
            "a request with this idempotency key is in flight",
        ),
        (
            ErrorKind::IdempotencyMismatch,
            "idempotency key reused with a different request",
        ),
        (ErrorKind::InvalidRequest, "invalid request"),
        (ErrorKind::PayloadTooLarge, "payload too large"),
        (ErrorKind::StoreUnavailable, "backing store unavailable"),
        (ErrorKind::RateLimited, "rate limit exceeded"),
        (ErrorKind::ShuttingDown, "the service is shutting down"),
        (
            ErrorKind::Throttled,
            "throttled locally: the backend is rejecting most calls",
        ),
        (ErrorKind::Inner, "operation failed"),
    ];
    assert_eq!(
        expected.len(),
        ErrorKind::ALL.len(),
        "a kind is missing here"
    );
    for (kind, text) in expected {
        assert_eq!(Error::new(kind).to_string(), text, "{kind:?}");
    }
}

#[test]
fn display_is_one_line_with_every_context_item() {
    let err = Error::new(ErrorKind::Timeout)
        .with_operation("inventory.reserve")
        .with_primitive(Primitive::Timeout)
        .with_instance("inventory")
        .with_attempts(3)
        .with_elapsed(Duration::from_millis(1500))
        .with_retry_after(Duration::from_secs(2))
        .with_class(Class::TRANSIENT)
        .with_field("shard", 7_u64)
        .with_field("region", "eu-west");
    let line = err.to_string();
    assert_eq!(
        line,
        "attempt timed out (operation=inventory.reserve, timeout=inventory, attempts=3, \
         elapsed=1.5s, retry_after=2s, class=transient, shard=7, region=eu-west)"
    );
    assert!(!line.contains('\n'));
}

#[test]
fn alternate_display_appends_the_source_chain() {
    let err = Error::wrap(CardDeclined { code: 51 }).with_operation("payments.charge");
    assert_eq!(
        err.to_string(),
        "operation failed (operation=payments.charge)"
    );
    assert_eq!(
        format!("{err:#}"),
        "operation failed (operation=payments.charge): card declined with code 51"
    );
}

#[test]
fn fields_survive_three_box_error_round_trips_without_nesting() {
    let original = Error::wrap(CardDeclined { code: 51 })
        .with_operation("payments.charge")
        .with_primitive(Primitive::CircuitBreaker)
        .with_instance("payments")
        .with_attempts(2)
        .with_elapsed(Duration::from_millis(40))
        .with_retry_after(Duration::from_secs(1))
        .with_class(Class::Permanent)
        .with_field("tenant", "acme");
    let expected_display = original.to_string();

    let mut err = original;
    for layer in 0..3_u64 {
        let boxed: BoxError = err.into();
        err = Error::from(boxed).with_field("layer", layer);
    }

    assert_eq!(err.kind(), ErrorKind::Inner);
    assert_eq!(err.operation(), Some("payments.charge"));
    assert_eq!(err.primitive(), Some(Primitive::CircuitBreaker));
    assert_eq!(err.instance(), Some("payments"));
    assert_eq!(err.attempts(), Some(2));
    assert_eq!(err.elapsed(), Some(Duration::from_millis(40)));
    assert_eq!(err.retry_after(), Some(Duration::from_secs(1)));
    assert_eq!(err.class(), Some(Class::Permanent));
    assert_eq!(err.field("tenant"), Some(&FieldValue::from("acme")));
    assert_eq!(err.field("layer"), Some(&FieldValue::U64(2)));
    // Not nested: the direct source is the card error, and it has no source of its own.
    let source = err.source().expect("source kept");
    assert!(source.downcast_ref::<Error>().is_none());
    assert_eq!(
        source.downcast_ref::<CardDeclined>(),
        Some(&CardDeclined { code: 51 })
    );
    assert!(source.source().is_none());
    assert!(
        err.to_string()
            .starts_with(&expected_display[..expected_display.len() - 1])
    );
}

#[test]
fn inner_passes_an_existing_error_through() {
    let err = Error::new(ErrorKind::BulkheadFull).with_instance("db");
    let again = Error::wrap(err);
    assert_eq!(again.kind(), ErrorKind::BulkheadFull);
    assert_eq!(again.instance(), Some("db"));
    assert!(again.source().is_none());
}

#[test]
fn source_downcasts_to_the_original_error() {
    let err = Error::wrap(CardDeclined { code: 5 });
    assert_eq!(
        err.downcast_ref::<CardDeclined>(),
        Some(&CardDeclined { code: 5 })
    );
    assert!(err.downcast_ref::<std::io::Error>().is_none());
    let dyn_source = err.source().expect("has a source");
    assert!(dyn_source.is::<CardDeclined>());

    let err = match err.downcast::<std::io::Error>() {
        Ok(_) => panic!("not an io::Error"),
        Err(err) => err,
    };
    assert_eq!(
        err.downcast::<CardDeclined>().ok(),
        Some(CardDeclined { code: 5 })
    );
}

#[test]
fn into_source_gives_back_the_boxed_error() {
    let err = Error::wrap(std::io::Error::other("disk gone"));
    let source = err.into_source().expect("has a source");
    assert_eq!(source.to_string(), "disk gone");
}

#[test]
fn is_rejection_per_kind() {
    for &kind in ErrorKind::ALL {
        let expected = match kind {
            ErrorKind::CircuitOpen
            | ErrorKind::BulkheadFull
            | ErrorKind::DeadlineExceeded
            | ErrorKind::IdempotencyConflict
            | ErrorKind::IdempotencyMismatch
            | ErrorKind::InvalidRequest
            | ErrorKind::PayloadTooLarge
            | ErrorKind::StoreUnavailable
            | ErrorKind::RateLimited
            | ErrorKind::ShuttingDown
            | ErrorKind::Throttled => true,
            ErrorKind::Timeout | ErrorKind::RetryBudgetExhausted | ErrorKind::Inner => false,
            _ => unreachable!("every kind is listed in ErrorKind::ALL and here"),
        };
        assert_eq!(Error::new(kind).is_rejection(), expected, "{kind:?}");
        assert_eq!(kind.is_rejection_by_default(), expected, "{kind:?}");
    }
}

#[test]
fn deadline_passing_mid_call_is_not_a_rejection() {
    let before = Error::new(ErrorKind::DeadlineExceeded);
    let during = Error::new(ErrorKind::DeadlineExceeded).during_call();
    assert!(before.is_rejection());
    assert!(!during.is_rejection());
}

#[test]
fn rejection_flag_survives_box_round_trip() {
    let err = Error::new(ErrorKind::DeadlineExceeded).during_call();
    let boxed: BoxError = Box::new(err);
    assert!(!Error::from(boxed).is_rejection());
}

#[test]
fn retry_after_falls_back_to_the_class_hint() {
    let hint = Duration::from_millis(250);
    let err = Error::new(ErrorKind::Inner).with_class(Class::Transient {
        retry_after: Some(hint),
    });
    assert_eq!(err.retry_after(), Some(hint));
    let explicit = err.with_retry_after(Duration::from_secs(9));
    assert_eq!(explicit.retry_after(), Some(Duration::from_secs(9)));
}

#[test]
fn kind_and_primitive_identifiers_are_distinct() {
    let kinds: std::collections::HashSet<_> = ErrorKind::ALL.iter().map(|k| k.as_str()).collect();
    assert_eq!(kinds.len(), ErrorKind::ALL.len());
    let prims: std::collections::HashSet<_> = Primitive::ALL.iter().map(|p| p.as_str()).collect();
    assert_eq!(prims.len(), Primitive::ALL.len());
}

#[test]
fn debug_lists_only_the_context_that_is_set() {
    let err = Error::new(ErrorKind::CircuitOpen).with_instance("payments");
    let debug = format!("{err:?}");
    assert!(debug.contains("CircuitOpen"), "{debug}");
    assert!(debug.contains("\"payments\""), "{debug}");
    assert!(!debug.contains("attempts"), "{debug}");
}
