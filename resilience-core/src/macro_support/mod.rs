//! Not public API: the runtime half of `#[resilient(...)]`. Generated code reaches it as
//! `::resilience_core::__private`; nothing here is covered by semver.
//!
//! The attribute composes the primitives, outermost first:
//! deadline → retry → circuit breaker → bulkhead → attempt timeout → the body.
//! Inside that stack an attempt's outcome is an [`Outcome<T, E>`]
//! (`Result<Result<T, E>, Error>`): the body's own result, or a primitive's error; see
//! `outcome.rs`.

mod args;
mod cached;
mod guards;
mod instances;
mod layers;
mod outcome;
mod retry;
mod timeout;

pub use args::CloneArg;
pub use cached::Cached;
pub use guards::{BreakerAttempt, BulkheadAttempt, bulkhead, circuit_breaker};
pub use instances::{
    BreakerSource, BudgetSource, BulkheadSource, registry_breaker, registry_budget,
    registry_bulkhead,
};
pub use layers::{deadline, flatten};
pub use outcome::{FromError, Judged, Outcome, finish};
pub use retry::{BackoffKind, Next, RetryAttempt, RetryRun, RetrySpec, retry_policy, sleep};
pub use timeout::{Timeout, lift, timeout};
