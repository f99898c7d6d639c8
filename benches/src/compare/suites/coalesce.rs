//! Coalescing, nobody to share with: every request leads its own call (the inner service
//! answers at once, so no two overlap).
//!
//! Same job: key requests by their value (a `u64`), share a call in flight. Ours joins
//! and leaves its coalescer's map under one lock each and reuses the call's shared state
//! (no allocation); tower-resilience's creates a broadcast channel per call.

use resilience_core::coalesce::Coalescer;
use resilience_tower::coalesce::CoalesceLayer;
use resilience_tower::key::KeyFn;
use tower::Layer;

use super::{Echo, number};
use crate::compare::{Comparison, Entry};

pub(super) fn comparisons() -> Vec<Comparison> {
    let ours = Coalescer::builder()
        .name("compare")
        .build()
        .expect("a valid coalescer");
    let key = KeyFn(|request: &u64| Some(*request));
    let tower_resilience = tower_resilience::coalesce::CoalesceLayer::new(|request: &u64| *request);
    vec![
        Comparison::new("coalesce/layer alone")
            .zero_alloc()
            .ours(Entry::service(
                "resilience layer",
                CoalesceLayer::new(ours).key(key).layer(Echo),
                number,
            ))
            .peer(Entry::service(
                "tower-resilience",
                tower_resilience.layer(Echo),
                number,
            )),
    ]
}
