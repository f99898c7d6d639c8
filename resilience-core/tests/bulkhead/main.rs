//! The bulkhead: capacity under real concurrency and cancellation, the wait queue, the
//! deadline, configuration and telemetry.

mod concurrency;
mod config;
mod model;
mod queue;
mod registry;
mod support;
mod telemetry;
