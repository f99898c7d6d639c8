//! HTTP glue without a server: Retry-After parsing and problem+json mapping.

#[path = "../common/mod.rs"]
mod common;
mod problem;
mod retry_after;
