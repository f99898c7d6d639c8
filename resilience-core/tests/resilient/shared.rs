//! `circuit_breaker` and `bulkhead`: named instances from the global registry, or paths to
//! instances built by hand, shared by every function that names them.

use std::sync::LazyLock;
use std::time::Duration;

use resilience_core::bulkhead::Bulkhead;
use resilience_core::circuit_breaker::{CircuitBreaker, State};
use resilience_core::{Class, Classify, ErrorKind, Primitive, Registry, resilient};
use tokio::time::sleep;

use crate::support::{AppError, Calls};

/// Registers a breaker that opens after four calls at 50% failures, for 30 s.
fn register_breaker(name: &'static str) -> CircuitBreaker {
    Registry::global()
        .circuit_breaker(name, |b| {
            b.count_window(4)
                .minimum_calls(4)
                .failure_rate_threshold(0.5)
                .open_duration(Duration::from_secs(30))
        })
        .unwrap()
}

static INVENTORY: Calls = Calls::new();

#[resilient(circuit_breaker = "tests.inventory")]
async fn reserve(fail: bool) -> Result<(), AppError> {
    INVENTORY.hit();
    if fail {
        Err(AppError::Failed("down"))
    } else {
        Ok(())
    }
}

#[resilient(circuit_breaker = "tests.inventory")]
async fn release(fail: bool) -> Result<(), AppError> {
    INVENTORY.hit();
    if fail {
        Err(AppError::Failed("down"))
    } else {
        Ok(())
    }
}

#[tokio::test(start_paused = true)]
async fn a_named_breaker_opens_across_functions_and_then_fails_fast() {
    let breaker = register_breaker("tests.inventory");
    reserve(true).await.unwrap_err();
    release(false).await.unwrap();
    release(true).await.unwrap_err();
    reserve(true).await.unwrap_err();
    assert_eq!(breaker.state(), State::Open);
    assert_eq!(INVENTORY.get(), 4);

    let err = release(false).await.unwrap_err();
    assert_eq!(err.kind(), Some(ErrorKind::CircuitOpen));
    let err = err.resilience();
    assert!(err.is_rejection());
    assert_eq!(err.instance(), Some("tests.inventory"));
    assert!(err.retry_after().is_some(), "says when to come back");
    assert_eq!(INVENTORY.get(), 4, "the body was not called");
}

static PAYMENTS_BREAKER: LazyLock<CircuitBreaker> = LazyLock::new(|| {
    CircuitBreaker::builder()
        .name("tests.payments")
        .consecutive_failures(2)
        .build()
        .unwrap()
});

fn ledger_breaker() -> &'static CircuitBreaker {
    static LEDGER: LazyLock<CircuitBreaker> = LazyLock::new(|| {
        CircuitBreaker::builder()
            .name("tests.ledger")
            .consecutive_failures(1)
            .build()
            .unwrap()
    });
    &LEDGER
}

#[resilient(circuit_breaker = PAYMENTS_BREAKER)]
async fn pay() -> Result<(), AppError> {
    Err(AppError::Failed("declined"))
}

#[resilient(circuit_breaker = ledger_breaker)]
async fn book() -> Result<(), AppError> {
    Err(AppError::Failed("locked"))
}

#[tokio::test(start_paused = true)]
async fn a_breaker_can_be_a_static_or_a_function_returning_one() {
    pay().await.unwrap_err();
    pay().await.unwrap_err();
    assert_eq!(PAYMENTS_BREAKER.state(), State::Open);
    assert_eq!(
        pay().await.unwrap_err().kind(),
        Some(ErrorKind::CircuitOpen)
    );

    book().await.unwrap_err();
    assert_eq!(ledger_breaker().state(), State::Open);
    assert_eq!(
        book().await.unwrap_err().kind(),
        Some(ErrorKind::CircuitOpen)
    );
}

/// Validation failures are the caller's fault: not held against the dependency.
struct ValidationIsBenign;

impl<T> Classify<T, AppError> for ValidationIsBenign {
    fn classify(&self, result: &Result<T, AppError>) -> Class {
        match result {
            Ok(_) => Class::Success,
            Err(AppError::Failed("invalid")) => Class::Benign,
            Err(_) => Class::TRANSIENT,
        }
    }
}

#[resilient(circuit_breaker = "tests.validated", classify = ValidationIsBenign)]
async fn validated(what: &'static str) -> Result<(), AppError> {
    Err(AppError::Failed(what))
}

#[tokio::test(start_paused = true)]
async fn benign_errors_do_not_count_against_the_breaker() {
    let breaker = Registry::global()
        .circuit_breaker("tests.validated", |b| b.consecutive_failures(2))
        .unwrap();
    for _ in 0..5 {
        validated("invalid").await.unwrap_err();
    }
    assert_eq!(breaker.state(), State::Closed);
    validated("down").await.unwrap_err();
    validated("down").await.unwrap_err();
    assert_eq!(breaker.state(), State::Open);
}

static OPEN_RETRIED: Calls = Calls::new();

#[resilient(
    retry(attempts = 3, base = "10ms"),
    circuit_breaker = "tests.open_retried"
)]
async fn open_retried() -> Result<(), AppError> {
    OPEN_RETRIED.hit();
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn retry_does_not_hammer_an_open_breaker() {
    let breaker = register_breaker("tests.open_retried");
    breaker.force_open();
    let err = open_retried().await.unwrap_err();
    assert_eq!(err.kind(), Some(ErrorKind::CircuitOpen));
    assert_eq!(OPEN_RETRIED.get(), 0);
}

// Bulkheads.

#[resilient(bulkhead = "tests.db")]
async fn query(work: Duration) -> Result<Duration, AppError> {
    sleep(work).await;
    Ok(work)
}

#[tokio::test(start_paused = true)]
async fn a_named_bulkhead_sheds_calls_beyond_its_capacity() {
    let bulkhead = Registry::global()
        .bulkhead("tests.db", |b| b.max_concurrent(2))
        .unwrap();
    let work = Duration::from_millis(100);
    let (a, b, c) = tokio::join!(query(work), query(work), query(work));
    assert_eq!((a.unwrap(), b.unwrap()), (work, work));
    let err = c.unwrap_err();
    assert_eq!(err.kind(), Some(ErrorKind::BulkheadFull));
    assert_eq!(err.resilience().primitive(), Some(Primitive::Bulkhead));
    assert!(err.resilience().is_rejection());
    assert_eq!(bulkhead.in_flight(), 0, "permits are given back");
    query(work).await.unwrap();
}

static POOL: LazyLock<Bulkhead> = LazyLock::new(|| {
    Bulkhead::builder()
        .name("tests.pool")
        .max_concurrent(1)
        .build()
        .unwrap()
});

static GUARDED: Calls = Calls::new();

#[resilient(
    bulkhead = POOL,
    circuit_breaker = "tests.guarded",
    timeout = "50ms",
)]
async fn guarded(work: Duration) -> Result<(), AppError> {
    GUARDED.hit();
    sleep(work).await;
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn a_full_bulkhead_is_not_held_against_the_breaker_but_a_timeout_is() {
    let breaker = Registry::global()
        .circuit_breaker("tests.guarded", |b| b.consecutive_failures(2))
        .unwrap();
    let fast = Duration::from_millis(10);
    let (a, b, c) = tokio::join!(guarded(fast), guarded(fast), guarded(fast));
    a.unwrap();
    assert_eq!(b.unwrap_err().kind(), Some(ErrorKind::BulkheadFull));
    assert_eq!(c.unwrap_err().kind(), Some(ErrorKind::BulkheadFull));
    assert_eq!(
        breaker.state(),
        State::Closed,
        "rejections are not failures"
    );

    let slow = Duration::from_secs(1);
    assert_eq!(
        guarded(slow).await.unwrap_err().kind(),
        Some(ErrorKind::Timeout)
    );
    assert_eq!(
        guarded(slow).await.unwrap_err().kind(),
        Some(ErrorKind::Timeout)
    );
    assert_eq!(breaker.state(), State::Open, "timeouts are failures");
    assert_eq!(GUARDED.get(), 3);
}

static UNREGISTERED: Calls = Calls::new();

#[resilient(circuit_breaker = "tests.not_yet_registered")]
async fn not_yet_registered() -> Result<(), AppError> {
    UNREGISTERED.hit();
    Ok(())
}

#[resilient(bulkhead = "tests.no_such_bulkhead")]
async fn no_such_bulkhead() -> Result<(), AppError> {
    UNREGISTERED.hit();
    Ok(())
}

#[resilient(retry(budget = "tests.no_such_budget"))]
async fn no_such_budget() -> Result<(), AppError> {
    UNREGISTERED.hit();
    Ok(())
}

#[resilient(hedge = "tests.no_such_hedge")]
async fn no_such_hedge() -> Result<(), AppError> {
    UNREGISTERED.hit();
    Ok(())
}

#[resilient(adaptive = "tests.no_such_adaptive")]
async fn no_such_adaptive() -> Result<(), AppError> {
    UNREGISTERED.hit();
    Ok(())
}

#[resilient(throttle = "tests.no_such_throttle")]
async fn no_such_throttle() -> Result<(), AppError> {
    UNREGISTERED.hit();
    Ok(())
}

#[resilient(retry = "tests.no_such_retry")]
async fn no_such_retry() -> Result<(), AppError> {
    UNREGISTERED.hit();
    Ok(())
}

#[resilient(deadline = "tests.no_such_deadline")]
async fn no_such_deadline() -> Result<(), AppError> {
    UNREGISTERED.hit();
    Ok(())
}

#[tokio::test]
async fn an_unregistered_name_fails_every_call_naming_it_until_it_is_registered() {
    for (result, primitive, name) in [
        (
            not_yet_registered().await,
            Primitive::CircuitBreaker,
            "tests.not_yet_registered",
        ),
        (
            no_such_bulkhead().await,
            Primitive::Bulkhead,
            "tests.no_such_bulkhead",
        ),
        (
            no_such_budget().await,
            Primitive::Retry,
            "tests.no_such_budget",
        ),
        (
            no_such_hedge().await,
            Primitive::Hedge,
            "tests.no_such_hedge",
        ),
        (
            no_such_adaptive().await,
            Primitive::Bulkhead,
            "tests.no_such_adaptive",
        ),
        (
            no_such_throttle().await,
            Primitive::Throttle,
            "tests.no_such_throttle",
        ),
        (
            no_such_retry().await,
            Primitive::Retry,
            "tests.no_such_retry",
        ),
        (
            no_such_deadline().await,
            Primitive::Deadline,
            "tests.no_such_deadline",
        ),
    ] {
        let err = result.unwrap_err();
        let err = err.resilience();
        assert_eq!(err.primitive(), Some(primitive));
        assert_eq!(err.instance(), Some(name));
        assert_eq!(err.effective_class(), Class::Permanent, "not retried");
        let message = format!("{err:#}");
        assert!(message.contains(&format!("`{name}`")), "{message}");
        assert!(message.contains("not registered"), "{message}");
    }
    assert_eq!(UNREGISTERED.get(), 0, "no body ran without its instance");

    // Registered late, it is found (and used) on the next call: never a stand-in made up
    // with the defaults that would have ignored this configuration.
    let breaker = Registry::global()
        .circuit_breaker("tests.not_yet_registered", |b| b.count_window(7))
        .unwrap();
    not_yet_registered().await.unwrap();
    assert_eq!(UNREGISTERED.get(), 1);
    assert_eq!(breaker.snapshot().calls, 1);
}

#[resilient(circuit_breaker = "tests.probed")]
async fn probed(work: Duration) -> Result<(), AppError> {
    sleep(work).await;
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn a_named_breakers_probe_timeout_bounds_the_half_open_probe() {
    let breaker = Registry::global()
        .circuit_breaker("tests.probed", |b| {
            b.count_window(1)
                .open_duration(Duration::from_secs(1))
                .half_open_calls(1)
                .probe_timeout(Duration::from_millis(100))
        })
        .unwrap();
    breaker.try_acquire().unwrap().record_failure();
    sleep(Duration::from_secs(1)).await;
    let start = tokio::time::Instant::now();
    let err = probed(Duration::from_secs(60)).await.unwrap_err();
    assert_eq!(start.elapsed(), Duration::from_millis(100));
    assert_eq!(err.kind(), Some(ErrorKind::Timeout));
    assert_eq!(
        err.resilience().primitive(),
        Some(Primitive::CircuitBreaker)
    );
    assert_eq!(breaker.state(), State::Open);
    // Closed again, calls take as long as they take.
    sleep(Duration::from_secs(1)).await;
    probed(Duration::from_millis(50)).await.unwrap();
    assert_eq!(breaker.state(), State::Closed);
    probed(Duration::from_secs(5)).await.unwrap();
}
