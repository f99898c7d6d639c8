//! `Error::record_in` puts context on spans as separate fields; `#[resilient]` opens the span.

use std::time::Duration;

use resilience_core::{Error, ErrorKind, Primitive, telemetry};
use resilience_test_support::events::capture;
use tracing::Level;

#[test]
fn record_in_sets_each_context_item_as_its_own_field() {
    let ((), rec) = capture(|| {
        let span = telemetry::call_span("payments.charge");
        Error::wrap(std::io::Error::other("connection reset"))
            .with_primitive(Primitive::Retry)
            .with_instance("payments")
            .with_attempts(3)
            .with_elapsed(Duration::from_millis(1500))
            .with_retry_after(Duration::from_secs(2))
            .with_operation("payments.charge.v2")
            .with_field("tenant", "acme")
            .record_in(&span);
    });
    let get = |f: &str| rec.span_field(telemetry::CALL_SPAN_NAME, f);
    assert_eq!(
        get(telemetry::field::OPERATION).as_deref(),
        Some("payments.charge")
    );
    assert_eq!(get(telemetry::field::ERROR_KIND).as_deref(), Some("inner"));
    assert_eq!(
        get(telemetry::field::ERROR_REJECTION).as_deref(),
        Some("false")
    );
    assert_eq!(
        get(telemetry::field::ERROR_PRIMITIVE).as_deref(),
        Some("retry")
    );
    assert_eq!(
        get(telemetry::field::ERROR_INSTANCE).as_deref(),
        Some("payments")
    );
    assert_eq!(get(telemetry::field::ERROR_ATTEMPTS).as_deref(), Some("3"));
    assert_eq!(
        get(telemetry::field::ERROR_ELAPSED_SECONDS).as_deref(),
        Some("1.5")
    );
    assert_eq!(
        get(telemetry::field::ERROR_RETRY_AFTER_SECONDS).as_deref(),
        Some("2.0")
    );
    assert_eq!(
        get(telemetry::field::ERROR_FIELDS).as_deref(),
        Some("tenant=acme")
    );
    assert_eq!(
        get(telemetry::field::ERROR_SOURCE).as_deref(),
        Some("connection reset")
    );
    assert!(
        get(telemetry::field::ERROR_CLASS).is_none(),
        "no class was set"
    );
    assert_eq!(
        get(telemetry::field::ERROR_OPERATION).as_deref(),
        Some("payments.charge.v2")
    );
    let message = get(telemetry::field::ERROR_MESSAGE).expect("message recorded");
    assert!(
        message.starts_with("operation failed (operation=payments.charge.v2"),
        "{message}"
    );
}

#[test]
fn emit_event_needs_no_declared_fields_and_picks_the_level() {
    let ((), rec) = capture(|| {
        Error::new(ErrorKind::BulkheadFull)
            .with_instance("db")
            .emit_event();
        Error::new(ErrorKind::Timeout).with_attempts(2).emit_event();
    });
    let info = |f: &str| rec.event_field(Level::INFO, "resilience", f);
    let warn = |f: &str| rec.event_field(Level::WARN, "resilience", f);
    assert_eq!(
        info(telemetry::field::ERROR_KIND).as_deref(),
        Some("bulkhead_full")
    );
    assert_eq!(
        info(telemetry::field::ERROR_INSTANCE).as_deref(),
        Some("db")
    );
    assert_eq!(
        info("message").as_deref(),
        Some("bulkhead is full (instance=db)")
    );
    assert_eq!(
        warn(telemetry::field::ERROR_KIND).as_deref(),
        Some("timeout")
    );
    assert_eq!(warn(telemetry::field::ERROR_ATTEMPTS).as_deref(), Some("2"));
    assert!(
        warn(telemetry::field::ERROR_INSTANCE).is_none(),
        "unset context is not recorded"
    );
}

#[test]
fn record_in_current_span_records_into_the_entered_span() {
    let ((), rec) = capture(|| {
        let span = telemetry::call_span("db.query");
        let _guard = span.enter();
        Error::new(ErrorKind::CircuitOpen).record_in_current_span();
    });
    assert_eq!(
        rec.span_field(telemetry::CALL_SPAN_NAME, telemetry::field::ERROR_KIND)
            .as_deref(),
        Some("circuit_open")
    );
    assert_eq!(
        rec.span_field(telemetry::CALL_SPAN_NAME, telemetry::field::ERROR_REJECTION)
            .as_deref(),
        Some("true")
    );
}

#[derive(Debug)]
struct AppError;

impl From<Error> for AppError {
    fn from(_: Error) -> Self {
        AppError
    }
}

#[resilience_core::resilient(name = "inventory.lookup")]
async fn lookup(sku: &str) -> Result<String, AppError> {
    let span = tracing::Span::current();
    let name = span.metadata().map(|m| m.name()).unwrap_or("none");
    Ok(format!("{sku} in {name}"))
}

#[resilience_core::resilient]
async fn unnamed() -> Result<(), AppError> {
    Ok(())
}

#[test]
fn resilient_runs_the_body_inside_a_named_call_span() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let (out, rec) = capture(|| rt.block_on(lookup("sku-1")));
    assert_eq!(out.unwrap(), "sku-1 in resilience.call");
    assert_eq!(
        rec.span_field(telemetry::CALL_SPAN_NAME, telemetry::field::OPERATION)
            .as_deref(),
        Some("inventory.lookup")
    );

    let ((), rec) = capture(|| rt.block_on(unnamed()).unwrap());
    assert_eq!(
        rec.span_field(telemetry::CALL_SPAN_NAME, telemetry::field::OPERATION)
            .as_deref(),
        Some("tracing::fields::unnamed"),
        "the default name is the module path and function name"
    );
}

static FLAKY_CALLS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

#[resilience_core::resilient(name = "inventory.reserve", retry(attempts = 5, base = "1ms"))]
async fn reserve() -> Result<u32, AppError> {
    let n = FLAKY_CALLS.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
    if n < 3 {
        return Err(AppError);
    }
    Ok(n)
}

#[test]
fn resilient_records_the_operation_and_the_attempt_on_its_span() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    let (out, rec) = capture(|| rt.block_on(reserve()));
    assert_eq!(out.unwrap(), 3);
    let get = |f: &str| rec.span_field(telemetry::CALL_SPAN_NAME, f);
    assert_eq!(
        get(telemetry::field::OPERATION).as_deref(),
        Some("inventory.reserve")
    );
    assert_eq!(get(telemetry::field::ATTEMPT).as_deref(), Some("3"));
    // Each retry is an event with the attempt that failed.
    assert_eq!(
        rec.event_field(Level::INFO, "resilience", "attempt")
            .as_deref(),
        Some("2")
    );
}
