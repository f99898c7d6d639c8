//! Hedging: the tail it cuts, the attempts it drops, the budget and deadline it keeps to,
//! which outcomes decide a call, telemetry and configuration errors.

mod behaviour;
mod concurrency;
mod config;
mod support;
mod tail;
mod telemetry;
