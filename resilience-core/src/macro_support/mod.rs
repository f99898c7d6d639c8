//! Not public API: the runtime half of `#[resilient(...)]`. Generated code reaches it as
//! `::resilience_core::__private`; nothing here is covered by semver.
//!
//! The attribute composes the primitives, outermost first:
//! deadline → retry → circuit breaker → bulkhead → attempt timeout → the body.
//! Inside that stack an attempt's outcome is a `Result<T, Failure<E>>`: the body's own
//! error stays an `E` and an error made by a primitive stays an [`Error`], so that a
//! classifier judges only the function's errors, a breaker can tell a rejection by an
//! inner bulkhead from a failure of the dependency, and the user's `E` is built (through
//! `E: From<Error>`) once, at the very end.

mod args;
mod cached;
mod layers;
mod outcome;

pub use args::CloneArg;
pub use cached::Cached;
pub use layers::{deadline, lift, timeout};
pub use outcome::{Failure, FromError, Judged, finish, judge};
