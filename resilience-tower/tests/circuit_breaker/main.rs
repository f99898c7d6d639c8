//! The circuit breaker layer: as a tower service, and in a real axum app on 127.0.0.1.

mod app;
#[path = "../common/mod.rs"]
mod common;
mod service;
#[path = "../axum/support.rs"]
mod support;
mod unfinished;
