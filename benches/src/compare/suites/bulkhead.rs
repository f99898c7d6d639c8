//! Bulkhead, room to spare: admission and release on every call.
//!
//! Same job: at most 64 calls in flight, far more than the two threads of the contended
//! run can hold, so no call is ever refused or queued. tower-resilience is set to reject
//! when full (as ours does by default); tower's `ConcurrencyLimit` waits instead, which
//! never happens here.

use resilience_core::bulkhead::Bulkhead;
use resilience_tower::bulkhead::BulkheadLayer;
use tower::Layer;
use tower::limit::ConcurrencyLimitLayer;

use super::{Echo, number};
use crate::compare::{Comparison, Entry};

const CAPACITY: usize = 64;

pub(super) fn comparisons() -> Vec<Comparison> {
    let ours = Bulkhead::builder()
        .name("compare")
        .max_concurrent(CAPACITY)
        .build()
        .expect("a valid bulkhead");
    let tower_resilience = tower_resilience::bulkhead::BulkheadLayer::builder()
        .max_concurrent_calls(CAPACITY)
        .reject_when_full()
        .build()
        .expect("a valid tower-resilience bulkhead");
    vec![
        Comparison::new("bulkhead/layer")
            .zero_alloc()
            .ours(Entry::service(
                "resilience layer",
                BulkheadLayer::new(ours).layer(Echo),
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
