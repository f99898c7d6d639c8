//! Everything that asserts on `tracing` output, in one binary where every test installs
//! its own capturing subscriber (`resilience_test_support::events`): tracing caches
//! callsite interest process-wide, so a test running without a subscriber could make a
//! callsite look uninteresting to a test that expects its events.

mod circuit_breaker;
mod fields;
mod retry;
