//! Every comparison of the `compare` binary runs, gives finite positive figures, and our
//! success paths that must not allocate do not (counted with the same allocator as the
//! binary). Tiny batches: this checks the measurement works, not how fast anything is.
//!
//! One test function on purpose: the counting allocator sees every thread, so no other
//! test may run beside it in this binary.

use std::alloc::System;
use std::time::Duration;

use resilience_benches::compare::{self, Settings};
use stats_alloc::{INSTRUMENTED_SYSTEM, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

#[test]
fn every_comparison_measures_finite_figures_and_zero_allocation_success_paths() {
    let settings = Settings {
        batch: Duration::from_micros(200),
        samples: 3,
        alloc_calls: 1_000,
    };
    let comparisons = compare::suites::all();
    let expected: Vec<&str> = comparisons.iter().map(|c| c.name()).collect();
    for name in [
        "circuit_breaker/core",
        "circuit_breaker/layer",
        "retry/layer",
        "bulkhead/layer",
        "adaptive/layer",
        "deadline/no_header",
        "deadline/header",
        "full_stack/layers",
        "macro/retry_fn",
        "idempotency/memory_store claim+complete",
        "hedge/layer no_hedge",
        "fallback/layer success",
        "coalesce/layer alone",
        "rate_limit/core",
        "rate_limit/keyed",
        "rate_limit/layer",
    ] {
        assert!(expected.contains(&name), "{name} is not among {expected:?}");
    }
    let measurements: Vec<_> = comparisons
        .into_iter()
        .map(|c| c.measure(&settings, Some(GLOBAL)))
        .collect();
    let problems = compare::check(&measurements, &expected);
    assert!(problems.is_empty(), "{problems:#?}");

    // The ones the issue names are flagged, so `check` did look at them.
    for name in [
        "circuit_breaker/core",
        "circuit_breaker/layer",
        "retry/layer",
        "bulkhead/layer",
        "adaptive/layer",
        "deadline/no_header",
        "hedge/layer no_hedge",
        "fallback/layer success",
        "coalesce/layer alone",
        "rate_limit/core",
        "rate_limit/layer",
    ] {
        let m = measurements.iter().find(|m| m.name == name).unwrap();
        assert!(m.zero_alloc, "{name} must be checked for allocations");
        assert!(
            m.ours.allocs_per_call < compare::ZERO_ALLOC_TOLERANCE,
            "{m:?}"
        );
    }
    // Peers are measured with the same allocator: tower-resilience's breaker allocates.
    let layer = measurements
        .iter()
        .find(|m| m.name == "circuit_breaker/layer")
        .unwrap();
    let peers: Vec<_> = layer.peers.iter().map(|(name, _)| *name).collect();
    assert_eq!(
        peers,
        ["tower-resilience", "failsafe futures", "recloser async"]
    );
    assert!(layer.peers[0].1.allocs_per_call >= 1.0, "{layer:?}");
}
