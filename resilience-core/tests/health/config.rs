//! Invalid settings are `ConfigError`s at build time, naming the option.

use std::time::Duration;

use resilience_core::Primitive;
use resilience_core::health::{Check, Health, HealthBuilder};
use resilience_core::retry::Backoff;

fn ok() -> Check {
    Check::new("db", || async { Ok::<(), std::io::Error>(()) })
}

fn option_of(builder: HealthBuilder) -> &'static str {
    let err = builder.build().unwrap_err();
    assert_eq!(err.primitive(), Primitive::Health);
    err.option()
}

#[test]
fn invalid_settings_are_config_errors_naming_the_option() {
    let zero = Duration::ZERO;
    let b = Health::builder;
    assert_eq!(option_of(b().check_timeout(zero)), "check_timeout");
    assert_eq!(option_of(b().startup_timeout(zero)), "startup_timeout");
    assert_eq!(option_of(b().startup_max_delay(zero)), "startup_max_delay");
    assert_eq!(
        option_of(b().startup_backoff(Backoff::constant(zero))),
        "startup_backoff"
    );
    assert_eq!(
        option_of(b().startup_backoff(Backoff::exponential_with_factor(
            Duration::from_millis(10),
            f64::NAN
        ))),
        "startup_backoff"
    );
    assert_eq!(
        option_of(
            b().startup_backoff(Backoff::constant(Duration::from_secs(10)))
                .startup_max_delay(Duration::from_secs(1))
        ),
        "startup_backoff"
    );
    assert_eq!(option_of(b().check(ok().timeout(zero))), "check");
    assert_eq!(
        option_of(b().check(Check::new("", || async { Ok::<(), std::io::Error>(()) }))),
        "check"
    );
}

#[test]
fn two_checks_of_one_kind_cannot_share_a_name() {
    let err = Health::builder()
        .check(ok())
        .check(ok())
        .build()
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid health config: `check` `db` is registered twice"
    );
    let err = Health::builder()
        .startup_check(ok())
        .startup_check(ok())
        .build()
        .unwrap_err();
    assert_eq!(err.option(), "startup_check");
    // The same check as a startup and a readiness check is fine.
    assert!(
        Health::builder()
            .startup_check(ok())
            .check(ok())
            .build()
            .is_ok()
    );
}

#[tokio::test(start_paused = true)]
async fn absurd_durations_do_not_overflow() {
    let health = Health::builder()
        .check(ok())
        .interval(Duration::MAX)
        .check_timeout(Duration::MAX)
        .startup_timeout(Duration::MAX)
        .drain_timeout(Duration::MAX)
        .shutdown_delay(Duration::ZERO)
        .build()
        .unwrap();
    health.startup().await.unwrap();
    assert!(health.readiness().await.is_healthy());
    health.shutdown_signal(std::future::ready(())).await;
    health.drain(std::future::ready(())).await.unwrap();
}
