//! Each bulkhead key changes behaviour after load and after reload.

use std::time::Duration;

use resilience_core::bulkhead::Bulkhead;
use tokio::time::Instant;

use crate::{load, reload};

fn bulkhead(registry: &resilience_core::Registry) -> Bulkhead {
    registry.get_bulkhead("pool").unwrap()
}

/// How many permits can be held at once.
fn admitted(b: &Bulkhead) -> usize {
    let mut held = Vec::new();
    while let Ok(p) = b.try_acquire() {
        held.push(p);
        assert!(held.len() <= 1000);
    }
    held.len()
}

#[test]
fn max_concurrent_bounds_permits_after_load_and_reload() {
    let registry = load("[bulkhead.pool]\nmax_concurrent = 2\n");
    assert_eq!(admitted(&bulkhead(&registry)), 2);
    reload(&registry, "[bulkhead.pool]\nmax_concurrent = 5\n");
    assert_eq!(admitted(&bulkhead(&registry)), 5);
}

/// How many callers queue behind one held permit.
fn queued(b: &Bulkhead) -> usize {
    let _held = b.try_acquire().unwrap();
    let mut waiting = Vec::new();
    loop {
        let acquire = b.acquire();
        if !acquire.is_waiting() {
            break;
        }
        waiting.push(acquire);
        assert!(waiting.len() <= 1000);
    }
    waiting.len()
}

#[tokio::test(start_paused = true)]
async fn max_waiting_bounds_the_queue_after_load_and_reload() {
    let registry =
        load("[bulkhead.pool]\nmax_concurrent = 1\nmax_waiting = 1\nmax_wait = \"1s\"\n");
    assert_eq!(queued(&bulkhead(&registry)), 1);
    reload(
        &registry,
        "[bulkhead.pool]\nmax_concurrent = 1\nmax_waiting = 3\nmax_wait = \"1s\"\n",
    );
    assert_eq!(queued(&bulkhead(&registry)), 3);
}

/// How long a queued caller waits before it is refused.
async fn waited(b: &Bulkhead) -> Duration {
    let _held = b.try_acquire().unwrap();
    let start = Instant::now();
    assert!(b.acquire().await.is_err());
    start.elapsed()
}

#[tokio::test(start_paused = true)]
async fn max_wait_bounds_the_wait_after_load_and_reload() {
    let registry =
        load("[bulkhead.pool]\nmax_concurrent = 1\nmax_waiting = 1\nmax_wait = \"1s\"\n");
    assert_eq!(waited(&bulkhead(&registry)).await, Duration::from_secs(1));
    reload(
        &registry,
        "[bulkhead.pool]\nmax_concurrent = 1\nmax_waiting = 1\nmax_wait = \"2500ms\"\n",
    );
    assert_eq!(
        waited(&bulkhead(&registry)).await,
        Duration::from_millis(2500)
    );
}

fn hint(b: &Bulkhead) -> Option<Duration> {
    let _held = b.try_acquire().unwrap();
    b.try_acquire().unwrap_err().retry_after()
}

#[test]
fn retry_after_is_the_hint_of_a_rejection_after_load_and_reload() {
    let registry = load("[bulkhead.pool]\nmax_concurrent = 1\nretry_after = \"3s\"\n");
    assert_eq!(hint(&bulkhead(&registry)), Some(Duration::from_secs(3)));
    reload(
        &registry,
        "[bulkhead.pool]\nmax_concurrent = 1\nretry_after = \"7s\"\n",
    );
    assert_eq!(hint(&bulkhead(&registry)), Some(Duration::from_secs(7)));
}

#[test]
fn defaults_apply_to_every_named_instance_and_instances_override_them() {
    let registry = load(
        "[bulkhead.defaults]\nmax_concurrent = 3\n[bulkhead.a]\n[bulkhead.b]\nmax_concurrent = 1\n",
    );
    assert_eq!(registry.get_bulkhead("a").unwrap().capacity(), 3);
    assert_eq!(registry.get_bulkhead("b").unwrap().capacity(), 1);
    assert!(registry.get_bulkhead("defaults").is_none());
    reload(
        &registry,
        "[bulkhead.defaults]\nmax_concurrent = 4\n[bulkhead.a]\n",
    );
    assert_eq!(registry.get_bulkhead("a").unwrap().capacity(), 4);
    // "b" is no longer named: it keeps its last settings.
    assert_eq!(registry.get_bulkhead("b").unwrap().capacity(), 1);
}

#[test]
fn a_reload_updates_handles_already_given_out_and_keeps_permits_held() {
    let registry = load("[bulkhead.pool]\nmax_concurrent = 2\n");
    let handle = bulkhead(&registry);
    let held = handle.try_acquire().unwrap();
    reload(&registry, "[bulkhead.pool]\nmax_concurrent = 1\n");
    assert_eq!(handle.in_flight(), 1);
    assert!(
        handle.try_acquire().is_err(),
        "the held permit fills the new cap"
    );
    drop(held);
    assert_eq!(handle.in_flight(), 0);
    assert!(handle.try_acquire().is_ok());
}
