//! Fallback: each trigger, each answer, stale-if-error's age and memory bounds, that a
//! success is never replaced, telemetry and configuration errors.

mod answers;
mod config;
mod stale;
mod telemetry;
mod triggers;
