//! Fallback, the call succeeds: the cost of being ready to answer a failure.
//!
//! Same job: answer a failure with a fixed value (0). Ours classifies the outcome with
//! `TransientErrors` and returns a success as it is; tower-resilience's `FallbackLayer`
//! (`value`) clones the request before each call in case its strategy needs it.

use std::convert::Infallible;

use resilience_core::fallback::Fallback;
use resilience_tower::fallback::FallbackLayer;
use tower::Layer;

use super::{Echo, number};
use crate::compare::{Comparison, Entry};

pub(super) fn comparisons() -> Vec<Comparison> {
    let ours = Fallback::<u64>::builder()
        .name("compare")
        .value(0)
        .build()
        .expect("a valid fallback");
    let tower_resilience =
        tower_resilience::fallback::FallbackLayer::<u64, u64, Infallible>::value(0);
    vec![
        Comparison::new("fallback/layer success")
            .zero_alloc()
            .ours(Entry::service(
                "resilience layer",
                FallbackLayer::new(ours).layer(Echo),
                number,
            ))
            .peer(Entry::service(
                "tower-resilience",
                tower_resilience.layer(Echo),
                number,
            )),
    ]
}
