//! Each fault key changes behaviour after load and after reload; bad fault documents
//! change nothing.

use std::time::Duration;

use resilience_core::Registry;
use resilience_core::fault::{Action, Fault, Injection};

use crate::{load, reload, toml};

fn fault(registry: &Registry) -> Fault {
    registry.get_fault("chaos").unwrap()
}

fn draws(f: &Fault, n: usize) -> Vec<Injection> {
    (0..n).map(|_| f.decide()).collect()
}

fn actions(f: &Fault, n: usize) -> Vec<Action> {
    draws(f, n).into_iter().map(|i| i.action).collect()
}

fn delays(f: &Fault, n: usize) -> Vec<Duration> {
    draws(f, n).into_iter().filter_map(|i| i.delay).collect()
}

#[test]
fn enabled_switches_injection_on_the_next_call_after_load_and_reload() {
    let doc = |on: bool| format!("[fault.chaos]\nenabled = {on}\nabort_rate = 1.0\n");
    let registry = load(&doc(false));
    let f = fault(&registry);
    assert!(f.decide().is_none());
    reload(&registry, &doc(true));
    assert_eq!(f.decide().action, Action::Abort, "a game day starts");
    reload(&registry, &doc(false));
    assert!(f.decide().is_none(), "and ends");
}

#[test]
fn seed_picks_the_sequence_of_draws_after_load_and_reload() {
    let doc =
        |seed: u64| format!("[fault.chaos]\nenabled = true\nseed = {seed}\nerror_rate = 0.5\n");
    let built = |seed: u64| {
        let f = Fault::builder()
            .enabled(true)
            .seed(seed)
            .error_rate(0.5)
            .build()
            .unwrap();
        actions(&f, 64)
    };
    assert_ne!(built(1), built(2));
    let registry = load(&doc(1));
    assert_eq!(actions(&fault(&registry), 64), built(1));
    reload(&registry, &doc(2));
    assert_eq!(
        actions(&fault(&registry), 64),
        built(2),
        "a new seed restarts the sequence"
    );
}

#[test]
fn latency_rate_is_the_share_of_calls_delayed_after_load_and_reload() {
    let doc = |rate: f64| {
        format!("[fault.chaos]\nenabled = true\nlatency_rate = {rate}\nlatency_max = \"100ms\"\n")
    };
    let registry = load(&doc(1.0));
    assert_eq!(delays(&fault(&registry), 100).len(), 100);
    reload(&registry, &doc(0.0));
    assert_eq!(delays(&fault(&registry), 100).len(), 0);
}

#[test]
fn latency_min_is_the_shortest_delay_after_load_and_reload() {
    let doc = |min: &str| {
        format!(
            "[fault.chaos]\nenabled = true\nlatency_rate = 1.0\nlatency_min = \"{min}\"\nlatency_max = \"100ms\"\n"
        )
    };
    let registry = load(&doc("0s"));
    let before = delays(&fault(&registry), 200);
    assert!(before.iter().any(|d| *d < Duration::from_millis(50)));
    reload(&registry, &doc("90ms"));
    let after = delays(&fault(&registry), 200);
    assert!(after.iter().all(|d| *d >= Duration::from_millis(90)));
}

#[test]
fn latency_max_is_the_longest_delay_after_load_and_reload() {
    let doc = |max: &str| {
        format!("[fault.chaos]\nenabled = true\nlatency_rate = 1.0\nlatency_max = \"{max}\"\n")
    };
    let registry = load(&doc("100ms"));
    let before = delays(&fault(&registry), 200);
    assert!(before.iter().all(|d| *d <= Duration::from_millis(100)));
    reload(&registry, &doc("1s"));
    let after = delays(&fault(&registry), 200);
    assert!(after.iter().any(|d| *d > Duration::from_millis(100)));
    assert!(after.iter().all(|d| *d <= Duration::from_secs(1)));
}

/// Each rate key turns every call into its action, and back to none.
#[test]
fn error_abort_and_hang_rates_pick_the_action_after_load_and_reload() {
    for (key, action) in [
        ("error_rate", Action::Answer),
        ("abort_rate", Action::Abort),
        ("hang_rate", Action::Hang),
    ] {
        let doc = |rate: f64| format!("[fault.chaos]\nenabled = true\n{key} = {rate}\n");
        let registry = load(&doc(1.0));
        assert!(
            actions(&fault(&registry), 20).iter().all(|a| *a == action),
            "{key}"
        );
        reload(&registry, &doc(0.0));
        assert!(
            actions(&fault(&registry), 20)
                .iter()
                .all(|a| *a == Action::Proceed),
            "{key}"
        );
    }
}

#[test]
fn a_reload_updates_handles_already_given_out_and_the_snapshot() {
    let registry = load("[fault.chaos]\nerror_rate = 0.1\n");
    let handle = fault(&registry);
    reload(
        &registry,
        "[fault.chaos]\nenabled = true\nerror_rate = 0.3\n",
    );
    assert!(handle.is_enabled());
    let snapshot = registry.snapshot();
    assert_eq!(snapshot.faults.len(), 1);
    assert_eq!(snapshot.faults[0].name, "chaos");
    assert!(snapshot.faults[0].enabled);
    assert_eq!(snapshot.faults[0].error_rate, 0.3);
}

#[test]
fn invalid_fault_documents_name_the_key_and_change_nothing() {
    let registry = load("[fault.chaos]\nenabled = true\nabort_rate = 1.0\n");
    let cases = [
        (
            "error_rate = 1.5",
            "error_rate",
            "must be a share in [0, 1], got 1.5",
        ),
        (
            "abort_rate = nan",
            "abort_rate",
            "must be a share in [0, 1], got NaN",
        ),
        (
            "error_rate = 0.5\nhang_rate = 0.6",
            "hang_rate",
            "error, abort and hang rates add up to 1.1: at most 1, a call gets one of them at most",
        ),
        (
            "latency_rate = nan\nlatency_max = \"1s\"",
            "latency_rate",
            "must be a share in [0, 1], got NaN",
        ),
        (
            "latency_rate = 0.5\nlatency_min = \"2s\"\nlatency_max = \"1s\"",
            "latency_min",
            "(2s) must not exceed `latency_max` (1s)",
        ),
        (
            "latency_rate = 0.5\nlatency_max = \"0s\"",
            "latency_max",
            "must be longer than zero",
        ),
        (
            "latency_rate = 0.5",
            "latency_max",
            "must be set with `latency_rate`",
        ),
        (
            "latency_max = \"1s\"",
            "latency_rate",
            "must be set with `latency_max`",
        ),
        (
            "latency_min = \"1s\"",
            "latency_min",
            "needs `latency_rate` and `latency_max`",
        ),
    ];
    for (keys, key, problem) in cases {
        let text = format!("[bulkhead.other]\n[fault.chaos]\nenabled = false\n{keys}\n");
        let err = registry.apply(&toml(&text).unwrap()).unwrap_err();
        assert_eq!(
            (err.path(), err.problem()),
            (format!("fault.chaos.{key}").as_str(), problem),
            "{text}"
        );
        let f = fault(&registry);
        assert!(f.is_enabled(), "{text}");
        assert_eq!(f.decide().action, Action::Abort, "{text}");
        assert!(registry.get_bulkhead("other").is_none(), "{text}");
    }
    let err = toml("[fault.chaos]\nenabled = \"yes\"\n").unwrap_err();
    assert_eq!(err.path(), "fault.chaos.enabled");
    let err = toml("[fault.chaos]\nlatency = 0.5\n").unwrap_err();
    assert_eq!(err.path(), "fault.chaos.latency");
}

#[test]
fn environment_overrides_switch_a_fault() {
    let settings = toml("[fault.chaos]\nabort_rate = 1.0\n")
        .unwrap()
        .with_overrides([
            ("RESILIENCE__FAULT__CHAOS__ENABLED", "true"),
            ("RESILIENCE__FAULT__CHAOS__SEED", "18446744073709551615"),
        ])
        .unwrap();
    assert_eq!(settings.fault.instances["chaos"].seed, Some(u64::MAX));
    let registry = Registry::from_settings(&settings).unwrap();
    assert_eq!(fault(&registry).decide().action, Action::Abort);
}
