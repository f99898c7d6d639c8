//! Runnable examples for the `resilience` workspace.
//!
//! The binaries live in `src/bin/`; the chaos demo's machinery is this library's
//! [`chaos`] module, so that a test can run the demo in-process on a short script.

pub mod chaos;
