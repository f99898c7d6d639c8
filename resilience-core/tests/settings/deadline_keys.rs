//! Deadline keys: each changes behaviour after load and after reload (time paused).

use std::time::Duration;

use resilience_core::deadline::DeadlinePolicy;
use resilience_core::{Deadline, ErrorKind, Registry};

use crate::{load, reload};

fn api(registry: &Registry) -> DeadlinePolicy {
    registry.get_deadline("api").unwrap()
}

/// Whether a call taking `work` finishes within `policy`'s default timeout.
async fn finishes(policy: &DeadlinePolicy, work: Duration) -> bool {
    let timeout = policy.default_timeout().expect("a default timeout");
    let call = policy
        .enforcer()
        .run(Deadline::after(timeout), tokio::time::sleep(work));
    match call.await {
        Ok(()) => true,
        Err(err) => {
            assert_eq!(err.kind(), ErrorKind::DeadlineExceeded);
            assert_eq!(err.instance(), Some("api"));
            false
        }
    }
}

#[tokio::test(start_paused = true)]
async fn default_timeout_bounds_a_call_after_load_and_reload() {
    let registry = load("[deadline.api]\ndefault_timeout = \"100ms\"\n");
    let held = api(&registry);
    assert!(!finishes(&held, Duration::from_millis(200)).await);
    reload(&registry, "[deadline.api]\ndefault_timeout = \"300ms\"\n");
    assert!(finishes(&held, Duration::from_millis(200)).await);
}

#[tokio::test(start_paused = true)]
async fn max_caps_the_time_a_caller_may_ask_for_after_load_and_reload() {
    let registry = load("[deadline.api]\nmax = \"2s\"\n");
    let held = api(&registry);
    assert_eq!(held.max(), Duration::from_secs(2));
    assert_eq!(held.default_timeout(), None);
    reload(
        &registry,
        "[deadline.api]\nmax = \"5s\"\ndefault_timeout = \"5s\"\n",
    );
    assert_eq!(held.max(), Duration::from_secs(5));
    assert!(finishes(&held, Duration::from_secs(4)).await);
    // Within the new cap only: a default above it is refused.
    let err = registry
        .apply(&crate::toml("[deadline.api]\nmax = \"1s\"\ndefault_timeout = \"5s\"\n").unwrap())
        .unwrap_err();
    assert_eq!(err.path(), "deadline.api.default_timeout");
    assert_eq!(held.max(), Duration::from_secs(5));
}
