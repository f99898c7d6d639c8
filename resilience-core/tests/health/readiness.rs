//! Readiness follows startup, dependency failures, breaker and bulkhead state, and
//! shutdown; liveness does not.

use std::sync::Arc;
use std::time::Duration;

use resilience_core::adaptive::Aimd;
use resilience_core::health::{Phase, Status};
use resilience_core::{FieldValue, Registry};

use crate::support::{Dependency, builder, started};

fn observed(report: &resilience_core::health::HealthReport, name: &str) -> FieldValue {
    report
        .check(name)
        .unwrap_or_else(|| panic!("no check {name} in {report:?}"))
        .observed_value
        .clone()
        .expect("an observed value")
}

#[tokio::test(start_paused = true)]
async fn readiness_fails_until_startup_is_done() {
    let health = builder().build().unwrap();
    let report = health.readiness().await;
    assert_eq!(report.status, Status::Fail);
    assert_eq!(observed(&report, "lifecycle"), FieldValue::from("starting"));

    health.startup().await.unwrap();
    let report = health.readiness().await;
    assert_eq!(report.status, Status::Pass);
    assert_eq!(observed(&report, "lifecycle"), FieldValue::from("ready"));
}

#[tokio::test(start_paused = true)]
async fn readiness_follows_a_dependency_failure_and_recovery() {
    let db = Dependency::up();
    let health = started(builder().interval(Duration::ZERO).check(db.check("db"))).await;
    assert_eq!(health.readiness().await.status, Status::Pass);
    db.set_up(false);
    assert_eq!(health.readiness().await.status, Status::Fail);
    db.set_up(true);
    assert_eq!(health.readiness().await.status, Status::Pass);
}

#[tokio::test(start_paused = true)]
async fn a_non_critical_check_failure_only_warns() {
    let recommendations = Dependency::up();
    recommendations.set_up(false);
    let health =
        started(builder().check(recommendations.check("recommendations").critical(false))).await;
    let report = health.readiness().await;
    assert_eq!(report.status, Status::Warn);
    assert!(report.is_healthy());
    assert_eq!(
        report.check("recommendations").unwrap().status,
        Status::Fail
    );
}

#[tokio::test(start_paused = true)]
async fn readiness_follows_breaker_state() {
    let registry = Arc::new(Registry::new());
    let inventory = registry
        .circuit_breaker("inventory", |b| {
            b.count_window(4)
                .minimum_calls(4)
                .open_duration(Duration::from_secs(10))
                .half_open_calls(1)
        })
        .unwrap();
    let payments = registry.circuit_breaker("payments", |b| b).unwrap();
    let health = started(
        builder()
            .registry(Arc::clone(&registry))
            .critical_circuit_breaker("payments"),
    )
    .await;
    let key = "inventory:circuitBreaker";

    let report = health.readiness().await;
    assert_eq!(report.status, Status::Pass);
    assert_eq!(observed(&report, key), FieldValue::from("closed"));

    // Four failures open the breaker: its entry fails, readiness is degraded (warn).
    for _ in 0..4 {
        let _ = inventory.call(async { Err::<(), _>("down") }).await;
    }
    let report = health.readiness().await;
    assert_eq!(observed(&report, key), FieldValue::from("open"));
    assert_eq!(report.check(key).unwrap().status, Status::Fail);
    assert_eq!(report.status, Status::Warn);

    // After the open duration the breaker probes: still degraded.
    tokio::time::advance(Duration::from_secs(10)).await;
    let probe = inventory.try_acquire().unwrap();
    let report = health.readiness().await;
    assert_eq!(observed(&report, key), FieldValue::from("half_open"));
    assert_eq!(report.status, Status::Warn);
    probe.record_success();
    assert_eq!(health.readiness().await.status, Status::Pass);

    // A critical breaker open fails readiness.
    payments.force_open();
    let report = health.readiness().await;
    assert_eq!(report.status, Status::Fail);
    assert_eq!(
        observed(&report, "payments:circuitBreaker"),
        FieldValue::from("forced_open")
    );
    payments.reset();
    assert_eq!(health.readiness().await.status, Status::Pass);
}

#[tokio::test(start_paused = true)]
async fn breakers_registered_after_build_are_listed() {
    let health = started(builder().registry(Registry::global())).await;
    Registry::global()
        .circuit_breaker("health-late-breaker", |b| b)
        .unwrap()
        .force_open();
    let report = health.readiness().await;
    assert!(report.check("health-late-breaker:circuitBreaker").is_some());
    assert_eq!(report.status, Status::Warn);
}

#[tokio::test(start_paused = true)]
async fn a_saturated_bulkhead_warns() {
    let registry = Arc::new(Registry::new());
    let pool = registry
        .bulkhead("reports", |b| b.max_concurrent(2))
        .unwrap();
    let health = started(builder().registry(Arc::clone(&registry))).await;
    let key = "reports:bulkhead";

    let first = pool.try_acquire().unwrap();
    let report = health.readiness().await;
    assert_eq!(report.status, Status::Pass);
    assert_eq!(observed(&report, key), FieldValue::from(0.5));

    let second = pool.try_acquire().unwrap();
    let report = health.readiness().await;
    assert_eq!(report.status, Status::Warn);
    assert_eq!(report.check(key).unwrap().status, Status::Warn);
    assert_eq!(
        report.check(key).unwrap().observed_unit.as_deref(),
        Some("ratio")
    );
    drop((first, second));
    assert_eq!(health.readiness().await.status, Status::Pass);
}

#[tokio::test(start_paused = true)]
async fn a_saturated_adaptive_bulkhead_warns() {
    let registry = Arc::new(Registry::new());
    let limit = Aimd::builder()
        .initial_limit(2)
        .min_limit(1)
        .max_limit(4)
        .build()
        .unwrap();
    let pool = registry
        .adaptive_bulkhead("search", |b| b.algorithm(limit))
        .unwrap();
    let health = started(builder().registry(Arc::clone(&registry))).await;
    let key = "search:adaptiveBulkhead";

    let first = pool.bulkhead().try_acquire().unwrap();
    let report = health.readiness().await;
    assert_eq!(report.check(key).unwrap().status, Status::Pass);
    assert_eq!(observed(&report, key), FieldValue::from(0.5));

    let second = pool.bulkhead().try_acquire().unwrap();
    let report = health.readiness().await;
    assert_eq!(report.status, Status::Warn);
    assert_eq!(report.check(key).unwrap().status, Status::Warn);
    drop((first, second));
    assert_eq!(health.readiness().await.status, Status::Pass);
}

#[tokio::test(start_paused = true)]
async fn a_throttle_refusing_calls_warns_without_failing_readiness() {
    let registry = Arc::new(Registry::new());
    let throttle = registry.throttle("ledger", |b| b.multiplier(1.1)).unwrap();
    let health = started(builder().registry(Arc::clone(&registry))).await;
    let key = "ledger:throttle";

    let report = health.readiness().await;
    assert_eq!(report.check(key).unwrap().status, Status::Pass);
    assert_eq!(observed(&report, key), FieldValue::from(0.0));

    for _ in 0..100 {
        if throttle.try_admit().is_ok() {
            throttle.record(false);
        }
    }
    assert!(throttle.rejection_probability() > 0.0);
    let report = health.readiness().await;
    assert_eq!(report.check(key).unwrap().status, Status::Warn);
    assert_eq!(report.status, Status::Warn);
}

#[tokio::test(start_paused = true)]
async fn readiness_fails_once_shutdown_begins_and_runs_no_check() {
    let db = Dependency::up();
    let health = started(builder().interval(Duration::ZERO).check(db.check("db"))).await;
    health.readiness().await;
    assert_eq!(db.runs(), 1);

    health.shutdown();
    let report = health.readiness().await;
    assert_eq!(report.status, Status::Fail);
    assert_eq!(observed(&report, "lifecycle"), FieldValue::from("stopping"));
    assert_eq!(report.checks.len(), 1, "only the lifecycle: {report:?}");
    assert_eq!(db.runs(), 1);
    assert_eq!(health.phase(), Phase::Stopping);
}

#[tokio::test(start_paused = true)]
async fn liveness_passes_whatever_the_dependencies_and_phase() {
    let db = Dependency::up();
    db.set_up(false);
    let health = builder().check(db.check("db")).build().unwrap();
    assert_eq!(health.liveness().status, Status::Pass);
    health.startup().await.unwrap();
    tokio::time::advance(Duration::from_secs(90)).await;
    health.shutdown();
    let live = health.liveness();
    assert_eq!(live.status, Status::Pass);
    assert_eq!(observed(&live, "uptime"), FieldValue::F64(90.0));
    assert_eq!(db.runs(), 0, "liveness never pings dependencies");
}
