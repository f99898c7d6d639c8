//! The side-by-side comparison behind `cargo run --release -p resilience-benches --bin compare`.
//!
//! Every contender wraps the same trivial, always-ready service and is measured in this
//! process, on this machine, in one run: services are built outside the timed loop, the
//! contenders of a comparison run in alternating order, each is sampled many times, and the
//! report gives medians. Calls are timed in chunks of 128 and a chunk the scheduler
//! preempted is left out (see `Entry::sync`), so a loaded machine inflates the figures
//! less. Absolute nanoseconds drift between machines and runs; the ratio
//! between contenders measured side by side is what carries over.
//!
//! ```
//! use resilience_benches::compare::{Comparison, Entry, Settings};
//!
//! let comparison = Comparison::new("sum")
//!     .ours(Entry::sync("ours", || {
//!         let mut total = 0_u64;
//!         move || total = total.wrapping_add(std::hint::black_box(1))
//!     }))
//!     .peer(Entry::sync("peer", || || std::hint::black_box(1_u64).count_ones()));
//! let result = comparison.measure(&Settings::quick(), None);
//! assert_eq!(result.peers.len(), 1);
//! assert!(result.ours.ns_per_call >= 0.0);
//! ```

mod harness;
pub mod instructions;
mod report;
pub mod suites;

pub use harness::{Comparison, Entry, Measured, Measurement, Runner, Settings};
pub use report::{Row, ZERO_ALLOC_TOLERANCE, check, rows, to_json, to_markdown, to_table};
