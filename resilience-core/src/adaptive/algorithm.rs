//! [`LimitAlgorithm`]: what turns latency samples into a concurrency limit, and the
//! [`Sample`] it is fed.

use std::fmt;
use std::time::Duration;

/// One window of calls, summed up: what a [`LimitAlgorithm`] is fed.
///
/// An [`AdaptiveBulkhead`](super::AdaptiveBulkhead) collects the latency and outcome of
/// its calls over a window (one second by default, as Netflix's `WindowedLimit`) and hands
/// the algorithm one `Sample` per window, so the limit moves at most once a window rather
/// than on every call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Sample {
    /// The average latency of the window's calls (from permit to outcome).
    pub rtt: Duration,
    /// The shortest latency in the window.
    pub min_rtt: Duration,
    /// The most calls seen in flight when a call of the window ended (itself included).
    pub in_flight: usize,
    /// Whether a call of the window failed (a transient or permanent class): the
    /// dependency is shedding or breaking, a signal to back off.
    pub dropped: bool,
    /// How many calls the window holds.
    pub calls: u32,
}

impl Sample {
    /// A window of `calls` calls whose average and shortest latency is `rtt`, with at most
    /// `in_flight` in flight, `dropped` if one failed.
    pub const fn new(rtt: Duration, in_flight: usize, dropped: bool) -> Self {
        Self {
            rtt,
            min_rtt: rtt,
            in_flight,
            dropped,
            calls: 1,
        }
    }
}

/// A concurrency limit algorithm: given each window's [`Sample`], where should the limit
/// be? [`Aimd`](super::Aimd) and [`Vegas`](super::Vegas) are the two this crate ships;
/// implement it to bring another.
///
/// The bulkhead calls [`update`](Self::update) from one thread at a time and clamps what
/// it returns to `[min_limit, max_limit]`.
pub trait LimitAlgorithm: fmt::Debug + Send + 'static {
    /// A short `snake_case` name, shown in snapshots (`"aimd"`, `"vegas"`).
    fn name(&self) -> &'static str;

    /// The current limit (before any sample: the initial limit).
    fn limit(&self) -> usize;

    /// The lowest limit this algorithm returns.
    fn min_limit(&self) -> usize;

    /// The highest limit this algorithm returns.
    fn max_limit(&self) -> usize;

    /// Takes one window's sample and returns the new limit.
    fn update(&mut self, sample: &Sample) -> usize;

    /// Moves the limit to `limit` (already within `[min_limit, max_limit]`). Called when
    /// [`AdaptiveBulkhead::reconfigure`](super::AdaptiveBulkhead::reconfigure) swaps this
    /// algorithm in, so that it carries on from the limit the one before had reached.
    /// The default does nothing: the algorithm starts from its own initial limit.
    fn set_limit(&mut self, limit: usize) {
        let _ = limit;
    }
}

/// `max(1, ⌊log10(limit)⌋)`: the step of Vegas' thresholds and moves.
pub(crate) fn log10_root(limit: f64) -> f64 {
    limit.max(1.0).log10().floor().max(1.0)
}
