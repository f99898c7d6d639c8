//! HTTP glue: Retry-After parsing, problem+json mapping, the infallible layer in axum.

mod axum_app;
mod problem;
mod retry_after;
mod support;
