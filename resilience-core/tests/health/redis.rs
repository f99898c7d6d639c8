//! `Check::redis`: passes against a live Redis, fails within its timeout when Redis is not
//! there.

use std::time::Duration;

use resilience_core::health::{Check, Health, Status};
use resilience_core::idempotency::RedisStore;
use resilience_test_support::redis::redis_url_or_skip;

async fn readiness_with(store: RedisStore) -> resilience_core::health::HealthReport {
    let health = Health::builder()
        .check(Check::redis("redis", store))
        .check_timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    health.startup().await.unwrap();
    health.readiness().await
}

#[tokio::test]
async fn redis_check_passes_against_a_live_redis_with_its_round_trip() {
    let Some(url) = redis_url_or_skip("redis health check") else {
        return;
    };
    let store = RedisStore::builder(url).build().unwrap();
    let report = readiness_with(store).await;
    assert_eq!(report.status, Status::Pass, "{report:?}");
    let redis = report.check("redis").unwrap();
    assert_eq!(redis.component_type.as_deref(), Some("datastore"));
    assert_eq!(redis.observed_unit.as_deref(), Some("ms"));
    assert!(matches!(
        redis.observed_value,
        Some(resilience_core::FieldValue::F64(ms)) if ms >= 0.0
    ));
}

#[tokio::test]
async fn redis_check_fails_when_nothing_listens() {
    // A port nothing listens on: bind one, then free it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let store = RedisStore::builder(format!("redis://127.0.0.1:{port}/"))
        .timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let report = readiness_with(store).await;
    assert_eq!(report.status, Status::Fail);
    let redis = report.check("redis").unwrap();
    assert!(
        redis.output.as_deref().unwrap().contains("unavailable"),
        "{redis:?}"
    );
}
