//! Retry policy: backoff and jitter, classification, Retry-After, deadlines, budgets,
//! telemetry and configuration errors.

mod budget;
mod config;
mod deadline;
mod delays;
mod properties;
mod support;
mod telemetry;
