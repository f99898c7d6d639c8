//! `fault`: a fault injector by registry name or by path, innermost (it stands in for the
//! dependency), switched on and off at run time — by a reload too.

use std::sync::LazyLock;
use std::time::Duration;

use resilience_core::fault::Fault;
use resilience_core::{Class, ErrorKind, Primitive, Registry, resilient};

use crate::support::{AppError, Calls};

static INVENTORY: Calls = Calls::new();

#[resilient(fault = "tests.fault")]
async fn stock() -> Result<u32, AppError> {
    INVENTORY.hit();
    Ok(7)
}

#[tokio::test(start_paused = true)]
async fn a_named_fault_injects_once_switched_on_and_stops_once_switched_off() {
    let fault = Registry::global()
        .fault("tests.fault", |b| b.abort_rate(1.0))
        .unwrap();
    assert_eq!(stock().await.unwrap(), 7, "off by default");
    assert_eq!(INVENTORY.get(), 1);
    fault.enable();
    let err = stock().await.unwrap_err();
    assert_eq!(err.kind(), Some(ErrorKind::FaultInjected));
    assert_eq!(INVENTORY.get(), 1, "an abort does not call the body");
    fault
        .reconfigure(Fault::builder().enabled(false).abort_rate(1.0))
        .unwrap();
    assert_eq!(stock().await.unwrap(), 7, "switched off in place");
    assert_eq!(INVENTORY.get(), 2);
}

static SLOW: LazyLock<Fault> = LazyLock::new(|| {
    Fault::builder()
        .name("tests.fault.slow")
        .enabled(true)
        .latency(1.0, Duration::from_secs(2), Duration::from_secs(2))
        .build()
        .unwrap()
});

static PRICES: Calls = Calls::new();

#[resilient(fault = SLOW, timeout = "1s")]
async fn price() -> Result<u32, AppError> {
    PRICES.hit();
    Ok(3)
}

#[tokio::test(start_paused = true)]
async fn a_fault_by_path_delays_the_body_inside_the_attempt_timeout() {
    let err = price().await.unwrap_err();
    assert_eq!(err.kind(), Some(ErrorKind::Timeout));
    assert_eq!(
        PRICES.get(),
        0,
        "the body never started: its delay ran out first"
    );
    SLOW.disable();
    assert_eq!(price().await.unwrap(), 3);
}

#[resilient(fault = "tests.fault.missing")]
async fn unregistered() -> Result<(), AppError> {
    panic!("the body of a call whose fault is missing must not run");
}

#[tokio::test(start_paused = true)]
async fn an_unregistered_fault_fails_every_call_naming_it() {
    for _ in 0..2 {
        let err = unregistered().await.unwrap_err();
        let err = err.resilience();
        assert_eq!(err.primitive(), Some(Primitive::Fault));
        assert_eq!(err.instance(), Some("tests.fault.missing"));
        assert_eq!(err.effective_class(), Class::Permanent, "not retried");
        let message = format!("{err:#}");
        assert!(message.contains("`tests.fault.missing`"), "{message}");
        assert!(message.contains("not registered"), "{message}");
    }
}

static CHECKOUT: Calls = Calls::new();

#[resilient(fault = "tests.fault.reloaded")]
async fn checkout() -> Result<(), AppError> {
    CHECKOUT.hit();
    Ok(())
}

/// The game day: one reload of the document switches the fault on for every function
/// that names it, the next reload off.
#[cfg(feature = "serde")]
#[tokio::test(start_paused = true)]
async fn a_reloaded_document_switches_a_named_fault_on_the_next_call() {
    use resilience_core::settings::Settings;

    let document = |enabled: bool| {
        let text =
            format!("[fault.\"tests.fault.reloaded\"]\nenabled = {enabled}\nerror_rate = 1.0\n");
        Settings::from_deserializer(toml::Deserializer::parse(&text).unwrap()).unwrap()
    };
    Registry::global().apply(&document(false)).unwrap();
    checkout().await.unwrap();
    Registry::global().apply(&document(true)).unwrap();
    assert_eq!(
        checkout().await.unwrap_err().kind(),
        Some(ErrorKind::FaultInjected)
    );
    Registry::global().apply(&document(false)).unwrap();
    checkout().await.unwrap();
    assert_eq!(CHECKOUT.get(), 2);
}
