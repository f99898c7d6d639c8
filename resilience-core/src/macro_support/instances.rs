//! The shared instances an option names: a name in [`Registry::global`], or a path to an
//! instance the user built (a value, a `static`/`LazyLock`, or a `fn` returning one).
//!
//! The generated code calls `(PATH).resilience_instance()` with the source trait in scope,
//! so method resolution sees through `LazyLock` (and any other `Deref`) to the instance,
//! and accepts a function returning one (or a reference to one).

use std::borrow::Borrow;

use crate::adaptive::AdaptiveBulkhead;
use crate::bulkhead::Bulkhead;
use crate::circuit_breaker::CircuitBreaker;
use crate::deadline::DeadlinePolicy;
use crate::fallback::Fallback;
use crate::fault::Fault;
use crate::hedge::Hedge;
use crate::rate_limit::RateLimiter;
use crate::retry::{RetryBudget, RetryPolicy};
use crate::throttle::AdaptiveThrottle;
use crate::{Class, ConfigError, Error, Primitive, Registry};

macro_rules! source {
    ($trait:ident, $ty:ty, $what:literal) => {
        #[doc = concat!("Something `", $what, " = PATH` can name: a `", stringify!($ty), "`, or a function returning one.")]
        pub trait $trait {
            /// The instance (a clone of the handle, sharing its state).
            fn resilience_instance(&self) -> Result<$ty, Error>;
        }

        impl $trait for $ty {
            fn resilience_instance(&self) -> Result<$ty, Error> {
                Ok(self.clone())
            }
        }

        impl<F, R> $trait for F
        where
            F: Fn() -> R,
            R: Borrow<$ty>,
        {
            fn resilience_instance(&self) -> Result<$ty, Error> {
                Ok(self().borrow().clone())
            }
        }
    };
}

source!(BreakerSource, CircuitBreaker, "circuit_breaker");
source!(BulkheadSource, Bulkhead, "bulkhead");
source!(BudgetSource, RetryBudget, "retry(budget)");
source!(RateLimiterSource, RateLimiter, "rate_limit");
source!(HedgeSource, Hedge, "hedge");
source!(RetryPolicySource, RetryPolicy, "retry");

/// Something `fallback = PATH` can name: a [`Fallback`] for the function's `Result<T, E>`,
/// or a function returning one.
pub trait FallbackSource<T, E> {
    /// The fallback (a clone of the handle, sharing its state).
    fn resilience_fallback(&self) -> Fallback<T, E>;
}

impl<T, E> FallbackSource<T, E> for Fallback<T, E> {
    fn resilience_fallback(&self) -> Fallback<T, E> {
        self.clone()
    }
}

impl<F, R, T, E> FallbackSource<T, E> for F
where
    F: Fn() -> R,
    R: Borrow<Fallback<T, E>>,
{
    fn resilience_fallback(&self) -> Fallback<T, E> {
        self().borrow().clone()
    }
}
source!(AdaptiveSource, AdaptiveBulkhead, "adaptive");
source!(ThrottleSource, AdaptiveThrottle, "throttle");
source!(FaultSource, Fault, "fault");

/// The breaker `circuit_breaker = "name"` names, from [`Registry::global`]. A name nobody
/// registered is an error on every call (never a breaker made up with the defaults,
/// which a later registration would then silently fail to configure); it is looked up
/// again on the next call, so registering it late still works.
pub fn registry_breaker(name: &'static str) -> Result<CircuitBreaker, Error> {
    let found = Registry::global().get_circuit_breaker(name);
    found.ok_or_else(|| missing(Primitive::CircuitBreaker, "circuit_breaker", name))
}

/// The bulkhead `bulkhead = "name"` names, as [`registry_breaker`].
pub fn registry_bulkhead(name: &'static str) -> Result<Bulkhead, Error> {
    let found = Registry::global().get_bulkhead(name);
    found.ok_or_else(|| missing(Primitive::Bulkhead, "bulkhead", name))
}

/// The adaptive bulkhead `adaptive = "name"` names, as [`registry_breaker`].
pub fn registry_adaptive(name: &'static str) -> Result<AdaptiveBulkhead, Error> {
    let found = Registry::global().get_adaptive_bulkhead(name);
    found.ok_or_else(|| missing(Primitive::Bulkhead, "adaptive", name))
}

/// The fault injector `fault = "name"` names, as [`registry_breaker`]: a name nobody
/// registered fails every call, loudly, rather than silently injecting nothing.
pub fn registry_fault(name: &'static str) -> Result<Fault, Error> {
    let found = Registry::global().get_fault(name);
    found.ok_or_else(|| missing(Primitive::Fault, "fault", name))
}

/// The throttle `throttle = "name"` names, as [`registry_breaker`].
pub fn registry_throttle(name: &'static str) -> Result<AdaptiveThrottle, Error> {
    let found = Registry::global().get_throttle(name);
    found.ok_or_else(|| missing(Primitive::Throttle, "throttle", name))
}

/// The budget `retry(budget = "name")` names, as [`registry_breaker`].
pub fn registry_budget(name: &'static str) -> Result<RetryBudget, Error> {
    let found = Registry::global().get_retry_budget(name);
    found.ok_or_else(|| missing(Primitive::Retry, "retry(budget)", name))
}

/// The retry policy `retry = "name"` names, as [`registry_breaker`].
pub fn registry_retry_policy(name: &'static str) -> Result<RetryPolicy, Error> {
    let found = Registry::global().get_retry_policy(name);
    found.ok_or_else(|| missing(Primitive::Retry, "retry", name))
}

/// The deadline policy `deadline = "name"` names, as [`registry_breaker`].
pub fn registry_deadline(name: &'static str) -> Result<DeadlinePolicy, Error> {
    let found = Registry::global().get_deadline(name);
    found.ok_or_else(|| missing(Primitive::Deadline, "deadline", name))
}

/// The hedging policy `hedge = "name"` names, as [`registry_breaker`].
pub fn registry_hedge(name: &'static str) -> Result<Hedge, Error> {
    let found = Registry::global().get_hedge(name);
    found.ok_or_else(|| missing(Primitive::Hedge, "hedge", name))
}

/// The limiter `rate_limit = "name"` names, as [`registry_breaker`].
pub fn registry_rate_limiter(name: &'static str) -> Result<RateLimiter, Error> {
    let found = Registry::global().get_rate_limiter(name);
    found.ok_or_else(|| missing(Primitive::RateLimit, "rate_limit", name))
}

fn missing(primitive: Primitive, option: &'static str, name: &'static str) -> Error {
    let problem = format!(
        "names `{name}`, which is not registered in `Registry::global()`: register it before the first call"
    );
    config_error(
        ConfigError::new(primitive, option, problem),
        primitive,
        name,
    )
}

/// An invalid configuration met at run time: the call fails with it (never a panic), and
/// it is not worth retrying.
pub(super) fn config_error(err: ConfigError, primitive: Primitive, name: &'static str) -> Error {
    Error::wrap(err)
        .with_primitive(primitive)
        .with_instance(name)
        .with_class(Class::Permanent)
}
