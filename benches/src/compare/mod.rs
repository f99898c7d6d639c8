//! The side-by-side comparison behind `cargo run --release -p resilience-benches --bin compare`.
//!
//! Every contender wraps the same trivial, always-ready service and is measured in this
//! process, on this machine, in one run: services are built outside the timed loop, the
//! contenders of a comparison run in alternating order, each is sampled many times, and the
//! report gives medians. Absolute nanoseconds drift between machines and runs; the ratio
//! between contenders measured side by side is what carries over.
//!
//! ```
//! use std::time::{Duration, Instant};
//!
//! use resilience_benches::compare::{Comparison, Entry, Settings};
//!
//! let work = |iters: u64| {
//!     let start = Instant::now();
//!     for i in 0..iters {
//!         std::hint::black_box(i);
//!     }
//!     start.elapsed()
//! };
//! let comparison = Comparison::new("loop")
//!     .ours(Entry::sync("ours", move || work))
//!     .peer(Entry::sync("peer", move || work));
//! let result = comparison.measure(&Settings::quick(), None);
//! assert_eq!(result.peers.len(), 1);
//! assert!(result.ours.ns_per_call >= 0.0);
//! ```

mod harness;
mod report;
pub mod suites;

pub use harness::{Comparison, Entry, Measured, Measurement, Runner, Settings};
pub use report::{Row, ZERO_ALLOC_TOLERANCE, check, rows, to_json, to_table};
