//! Hedging, the call answers at once (the no-hedge path): the cost of being ready to
//! hedge.
//!
//! Same job: hedge once, after the 95th percentile of recent latencies. Ours records each
//! answer in its latency window (an answer on the first poll is one relaxed `fetch_add`,
//! no clock read) and deposits in its retry budget (20% + 10/s over 10 s). tower's
//! `Hedge` (p95, 10 s rotating histogram, 10 data points before it hedges) reads the
//! clock and locks its histogram on every call to choose the delay and again to record
//! the latency; it is not `Clone`, so each runner of the two-thread run builds its own
//! (no shared histogram: an advantage to tower there). tower-resilience's hedge takes a
//! fixed delay (100 ms, its `standard` preset's) and no budget.

use std::time::Duration;

use resilience_core::hedge::Hedge;
use resilience_tower::hedge::HedgeLayer;
use tower::Layer;

use super::{Echo, call_once, number};
use crate::compare::{Comparison, Entry};

/// tower's hedge policy: every request may be cloned and hedged.
#[derive(Clone, Copy, Debug)]
struct AlwaysHedge;

impl tower::hedge::Policy<u64> for AlwaysHedge {
    fn clone_request(&self, req: &u64) -> Option<u64> {
        Some(*req)
    }

    fn can_retry(&self, _: &u64) -> bool {
        true
    }
}

pub(super) fn comparisons() -> Vec<Comparison> {
    let ours = Hedge::builder()
        .name("compare")
        .percentile(0.95)
        .max_hedges(1)
        .build()
        .expect("a valid hedging policy");
    let tower_resilience = tower_resilience::hedge::HedgeLayer::builder()
        .delay(Duration::from_millis(100))
        .max_hedged_attempts(2)
        .build();
    vec![
        Comparison::new("hedge/layer no_hedge")
            .zero_alloc()
            .ours(Entry::service(
                "resilience layer",
                HedgeLayer::new(ours).layer(Echo),
                number,
            ))
            .peer(Entry::future_with_input("tower Hedge", number, || {
                let mut hedge = tower::hedge::Hedge::new::<u64>(
                    Echo,
                    AlwaysHedge,
                    10,
                    0.95,
                    Duration::from_secs(10),
                );
                async move |req| {
                    let Ok(answer) = call_once(&mut hedge, req).await else {
                        panic!("tower Hedge: a call failed; comparisons measure success")
                    };
                    answer
                }
            }))
            .peer(Entry::service(
                "tower-resilience",
                tower_resilience.layer(Echo),
                number,
            )),
    ]
}
