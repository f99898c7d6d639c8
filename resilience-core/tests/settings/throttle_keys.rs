//! Each adaptive throttle key changes behaviour after load and after reload.

use std::time::Duration;

use resilience_core::Registry;
use resilience_core::throttle::AdaptiveThrottle;
use tokio::time::advance;

use crate::{load, reload};

fn throttle(registry: &Registry) -> AdaptiveThrottle {
    registry.get_throttle("upstream").unwrap()
}

fn record(t: &AdaptiveThrottle, accepted: usize, rejected: usize) {
    for _ in 0..accepted {
        t.record(true);
    }
    for _ in 0..rejected {
        t.record(false);
    }
}

#[tokio::test(start_paused = true)]
async fn multiplier_sets_how_many_requests_per_accept_go_out_after_load_and_reload() {
    let registry = load("[throttle.upstream]\nmultiplier = 1.0\n");
    let t = throttle(&registry);
    // 10 requests, 4 accepted: (10 - K * 4) / 11.
    record(&t, 4, 6);
    assert_eq!(t.rejection_probability(), 6.0 / 11.0);
    reload(&registry, "[throttle.upstream]\nmultiplier = 2.0\n");
    assert_eq!(t.rejection_probability(), 2.0 / 11.0, "the counts are kept");
}

#[tokio::test(start_paused = true)]
async fn window_sets_how_long_requests_count_after_load_and_reload() {
    let registry = load("[throttle.upstream]\nwindow = \"1s\"\n");
    let t = throttle(&registry);
    record(&t, 0, 10);
    advance(Duration::from_secs(2)).await;
    assert_eq!(t.rejection_probability(), 0.0, "gone after 1s");
    reload(&registry, "[throttle.upstream]\nwindow = \"10s\"\n");
    record(&t, 0, 10);
    advance(Duration::from_secs(2)).await;
    assert_eq!(t.rejection_probability(), 10.0 / 11.0, "kept for 10s");
}
