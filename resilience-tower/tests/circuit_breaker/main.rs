//! The circuit breaker layer: as a tower service, and in a real axum app on 127.0.0.1.

mod app;
mod panics_and_deadlines;
mod service;
