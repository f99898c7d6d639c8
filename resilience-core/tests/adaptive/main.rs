//! The adaptive bulkhead: convergence on a simulated server with a latency knee (each
//! algorithm), the limit moving under calls in flight and waiters, deadline-aware
//! admission, what feeds the algorithm, configuration, and property tests.

mod bulkhead;
// The bulkhead tests' pseudo-random sequence (and upstream, unused here).
#[allow(dead_code)]
#[path = "../bulkhead/support.rs"]
mod bulkhead_support;
mod config;
mod knee;
mod model;
mod reconfigure_race;
mod support;
