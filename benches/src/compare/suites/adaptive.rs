//! Adaptive bulkhead, room to spare: admission, the sampling decision and release on
//! every call.
//!
//! Same job: an AIMD limit starting at 64 (far more than the two threads of the
//! contended run can hold, so no call is refused or queued), judged on every outcome.
//! Ours times a call for the algorithm only while the current window is short of samples
//! and then one call in 64 (the inner service answers at once, so a window fills at the
//! start of each one); tower-resilience's adaptive limiter times and records every call.
//! tower's `ConcurrencyLimit` (a fixed limit of 64, no sampling) is the bar: an adaptive
//! limit should cost no more than a fixed one.

use std::time::Duration;

use resilience_core::adaptive::{AdaptiveBulkhead, Aimd};
use resilience_core::classify::TransientErrors;
use resilience_tower::adaptive::AdaptiveBulkheadLayer;
use tower::Layer;
use tower::limit::ConcurrencyLimitLayer;

use super::{Echo, number};
use crate::compare::{Comparison, Entry};

const CAPACITY: usize = 64;

pub(super) fn comparisons() -> Vec<Comparison> {
    let ours = AdaptiveBulkhead::builder()
        .name("compare")
        .algorithm(
            Aimd::builder()
                .initial_limit(CAPACITY)
                .min_limit(1)
                .max_limit(1_000)
                .build()
                .expect("a valid AIMD"),
        )
        .build()
        .expect("a valid adaptive bulkhead");
    let tower_resilience = tower_resilience::adaptive::AdaptiveLimiterLayer::new(
        tower_resilience::adaptive::Aimd::builder()
            .initial_limit(CAPACITY)
            .min_limit(1)
            .max_limit(1_000)
            .latency_threshold(Duration::from_secs(5))
            .build()
            .expect("a valid tower-resilience AIMD"),
    );
    vec![
        Comparison::new("adaptive/layer")
            .zero_alloc()
            .ours(Entry::service(
                "resilience layer",
                AdaptiveBulkheadLayer::new(ours)
                    .classifier(TransientErrors)
                    .layer(Echo),
                number,
            ))
            .peer(Entry::service(
                "tower ConcurrencyLimit",
                ConcurrencyLimitLayer::new(CAPACITY).layer(Echo),
                number,
            ))
            .peer(Entry::service(
                "tower-resilience",
                tower_resilience.layer(Echo),
                number,
            )),
    ]
}
