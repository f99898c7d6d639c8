//! Invalid configurations are refused at build time, naming the option.

use std::time::Duration;

use resilience_core::adaptive::{AdaptiveBulkhead, Aimd, Vegas};

use crate::support::Scripted;

#[test]
fn aimd_refuses_bad_bounds_ratios_and_timeouts() {
    let option = |b: resilience_core::adaptive::AimdBuilder| b.build().unwrap_err().option();
    assert_eq!(
        option(Aimd::builder().min_limit(0).initial_limit(0)),
        "min_limit"
    );
    assert_eq!(
        option(Aimd::builder().min_limit(50).max_limit(10)),
        "min_limit"
    );
    assert_eq!(option(Aimd::builder().max_limit(usize::MAX)), "max_limit");
    assert_eq!(option(Aimd::builder().initial_limit(500)), "initial_limit");
    assert_eq!(option(Aimd::builder().initial_limit(5)), "initial_limit");
    for ratio in [1.0, 0.49, f64::NAN, f64::INFINITY] {
        assert_eq!(
            option(Aimd::builder().backoff_ratio(ratio)),
            "backoff_ratio"
        );
    }
    assert_eq!(option(Aimd::builder().timeout(Duration::ZERO)), "timeout");
    assert!(Aimd::builder().backoff_ratio(0.5).build().is_ok());
}

#[test]
fn vegas_refuses_bad_bounds_thresholds_smoothing_and_probes() {
    let option = |b: resilience_core::adaptive::VegasBuilder| b.build().unwrap_err().option();
    assert_eq!(option(Vegas::builder().min_limit(0)), "min_limit");
    assert_eq!(option(Vegas::builder().max_limit(10)), "initial_limit");
    for alpha in [0.0, -1.0, f64::NAN] {
        assert_eq!(option(Vegas::builder().alpha(alpha)), "alpha");
    }
    assert_eq!(option(Vegas::builder().alpha(6.0).beta(6.0)), "beta");
    assert_eq!(option(Vegas::builder().beta(f64::INFINITY)), "beta");
    for smoothing in [0.0, 1.5, f64::NAN] {
        assert_eq!(option(Vegas::builder().smoothing(smoothing)), "smoothing");
    }
    assert_eq!(
        option(Vegas::builder().probe_multiplier(0)),
        "probe_multiplier"
    );
}

#[test]
fn adaptive_bulkhead_refuses_bad_windows_queues_and_algorithm_bounds() {
    let option =
        |b: resilience_core::adaptive::AdaptiveBulkheadBuilder| b.build().unwrap_err().option();
    let b = AdaptiveBulkhead::builder;
    assert_eq!(option(b().min_window(Duration::ZERO)), "min_window");
    assert_eq!(
        option(
            b().min_window(Duration::from_secs(2))
                .max_window(Duration::from_secs(1))
        ),
        "min_window"
    );
    assert_eq!(option(b().window_samples(0)), "window_samples");
    assert_eq!(option(b().max_waiting(5)), "max_wait");
    assert_eq!(option(b().max_wait(Duration::from_secs(1))), "max_wait");
    assert_eq!(option(b().retry_after(Duration::ZERO)), "retry_after");
    // A limit algorithm of one's own is held to the same bounds.
    assert_eq!(option(b().algorithm(Scripted::new(0, 10))), "initial_limit");
    assert_eq!(
        option(b().algorithm(Scripted::new(20, 10))),
        "initial_limit"
    );
    let err = b()
        .algorithm(Scripted::new(5, usize::MAX))
        .build()
        .unwrap_err();
    assert_eq!(err.option(), "max_limit");
    assert!(
        err.to_string()
            .starts_with("invalid bulkhead config: `max_limit`"),
        "{err}"
    );
}

#[test]
fn the_default_is_vegas_with_netflix_defaults() {
    let limiter = AdaptiveBulkhead::builder().build().unwrap();
    let snapshot = limiter.snapshot();
    assert_eq!(snapshot.algorithm, "vegas");
    assert_eq!(
        (snapshot.limit, snapshot.min_limit, snapshot.max_limit),
        (20, 1, 1000)
    );
    assert_eq!(limiter.name(), "default");
    assert_eq!(snapshot.latency, None);
}
