//! The rate limit layer: as a tower service (paused time), and inside real axum apps on
//! 127.0.0.1 — keyed by peer address, and one limit across two app instances sharing Redis.

mod app;
mod service;
