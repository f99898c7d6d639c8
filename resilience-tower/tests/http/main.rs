//! HTTP glue without a server: Retry-After parsing and problem+json mapping.

mod problem;
mod retry_after;
