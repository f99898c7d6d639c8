//! The registry: get-or-create by name, snapshots for a health endpoint.

use resilience_core::Registry;
use resilience_core::circuit_breaker::{CircuitBreaker, State};

#[test]
fn the_same_name_gives_the_same_breaker_and_the_first_config_wins() {
    let registry = Registry::new();
    let a = registry
        .circuit_breaker("orders", |b| b.count_window(1))
        .unwrap();
    let b = registry
        .circuit_breaker("orders", |b| b.count_window(50))
        .unwrap();
    a.try_acquire().unwrap().record_failure();
    assert_eq!(b.state(), State::Open);
    assert_eq!(b.name(), "orders");
    assert!(registry.get_circuit_breaker("orders").is_some());
    assert!(registry.get_circuit_breaker("missing").is_none());
}

#[test]
fn an_invalid_config_is_an_error_and_registers_nothing() {
    let registry = Registry::new();
    let err = registry
        .circuit_breaker("bad", |b| b.failure_rate_threshold(f64::NAN))
        .unwrap_err();
    assert_eq!(err.option(), "failure_rate_threshold");
    assert!(registry.get_circuit_breaker("bad").is_none());
    assert!(registry.snapshot().circuit_breakers.is_empty());
}

#[test]
fn the_registry_name_wins_over_a_name_set_in_the_closure() {
    let registry = Registry::new();
    let breaker = registry
        .circuit_breaker("search", |b| b.name("other"))
        .unwrap();
    assert_eq!(breaker.name(), "search");
}

#[test]
fn snapshots_list_every_breaker_by_name() {
    let registry = Registry::new();
    registry.circuit_breaker("zeta", |b| b).unwrap();
    let alpha = CircuitBreaker::builder()
        .name("alpha")
        .count_window(4)
        .build()
        .unwrap();
    alpha.try_acquire().unwrap().record_failure();
    alpha.try_acquire().unwrap().record_success();
    assert!(registry.insert_circuit_breaker(alpha).is_none());
    let snap = registry.snapshot();
    let names: Vec<_> = snap
        .circuit_breakers
        .iter()
        .map(|s| s.name.to_string())
        .collect();
    assert_eq!(names, ["alpha", "zeta"]);
    let alpha = &snap.circuit_breakers[0];
    assert_eq!((alpha.calls, alpha.failed_calls), (2, 1));
    assert_eq!(alpha.failure_rate, Some(0.5));
    assert_eq!(alpha.state, State::Closed);
    assert_eq!(snap.circuit_breakers[1].failure_rate, None);
    assert!(registry.remove_circuit_breaker("zeta").is_some());
    assert_eq!(registry.snapshot().circuit_breakers.len(), 1);
}

#[test]
fn the_global_registry_is_one_instance() {
    let a = Registry::global()
        .circuit_breaker("tests.global", |b| b)
        .unwrap();
    let b = Registry::global()
        .get_circuit_breaker("tests.global")
        .unwrap();
    a.force_open();
    assert_eq!(b.state(), State::ForcedOpen);
    assert!(std::ptr::eq(Registry::global(), Registry::global()));
}
