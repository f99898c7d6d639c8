//! Not public API: the runtime half of `#[resilient(...)]`, reached as
//! `::resilience_core::__private`; nothing here is covered by semver.
//!
//! The attribute nests the primitives' own guarded futures (fallback → deadline → retry →
//! hedge → adaptive throttle → circuit breaker → rate limit → bulkhead or adaptive
//! bulkhead → attempt
//! timeout → fault injection → the [lifted](crate::outcome::lift) body); their logic lives in their modules.
//! Here is only what the attribute alone needs: finding the instances an option names
//! (`instances.rs`, kept in `static`s by `cached.rs`), the policy its `retry(...)` options
//! describe (`retry.rs`), cloning owned arguments per attempt (`args.rs`), and the glue
//! below: a failed lookup refuses the attempt, a hedge or a fallback starts around its
//! part of the call, and the outcome becomes the function's `Result`.

mod args;
mod cached;
mod hedge;
mod instances;
mod retry;

use std::future::Future;
use std::time::Duration;

pub use args::CloneArg;
pub use cached::Cached;
pub use hedge::{HedgeSpec, follow_retry_budget, hedge_policy};
pub use instances::{
    AdaptiveSource, BreakerSource, BudgetSource, BulkheadSource, FallbackSource, FaultSource,
    HedgeSource, RateLimiterSource, ThrottleSource, registry_adaptive, registry_breaker,
    registry_budget, registry_bulkhead, registry_fault, registry_hedge, registry_rate_limiter,
    registry_throttle,
};
pub use instances::{RetryPolicySource, registry_deadline, registry_retry_policy};
pub use retry::{BackoffKind, RetrySpec, retry_policy};

use crate::adaptive::{self, AdaptiveBulkhead, Sampler};
use crate::bulkhead::{self, Bulkhead};
use crate::circuit_breaker::{self, CircuitBreaker, Permit};
use crate::deadline::{Deadline, DeadlinePolicy, Enforce, Enforcer};
use crate::fallback::{Answered, Fallback};
use crate::fault::{self as faults, Action, FailWith, Fault, Injected, Injection};
use crate::hedge::{Hedge, Hedging};
use crate::outcome::Map;
pub use crate::outcome::{Judged, Outcome, lift};
use crate::rate_limit::{self, RateLimiter};
use crate::retry::RetryPolicy;
pub use crate::retry::{Next, RetryLoop};
use crate::telemetry::field;
use crate::throttle::{self as throttling, AdaptiveThrottle, Rejections};
pub use crate::timeout::timeout;
use crate::{Classify, Error, Name};

/// `circuit_breaker = ...`: the breaker's guard around an attempt; a breaker that could
/// not be found refuses it with that error.
#[inline]
pub fn circuit_breaker<'a, C, F, T, E>(
    breaker: Result<&'a CircuitBreaker, Error>,
    classifier: C,
    attempt: F,
) -> circuit_breaker::Guarded<F, C, Permit<'a>>
where
    F: Future<Output = Outcome<T, E>>,
    C: Classify<T, E>,
{
    match breaker {
        Ok(breaker) => {
            record_breaker(breaker);
            breaker.guard(classifier, attempt)
        }
        Err(error) => circuit_breaker::Guarded::refused(error, classifier),
    }
}

/// Records the breaker (primitive, instance, state as asked) in the current
/// (`resilience.call`) span, at each attempt: an exporter that keeps every recorded value
/// shows the state each attempt met, one that keeps the last shows the last.
#[inline]
fn record_breaker(breaker: &CircuitBreaker) {
    // Without any subscriber there is no span to record in; skip the span lookup.
    if tracing::dispatcher::has_been_set() {
        let span = tracing::Span::current();
        span.record(field::PRIMITIVE, crate::Primitive::CircuitBreaker.as_str());
        span.record(field::INSTANCE, breaker.name().as_str());
        span.record(field::CIRCUIT_STATE, breaker.state().as_str());
    }
}

/// `bulkhead = ...`: the bulkhead's guard around an attempt; a bulkhead that could not be
/// found refuses it with that error.
#[inline]
pub fn bulkhead<F: Future>(bulkhead: Result<&Bulkhead, Error>, attempt: F) -> bulkhead::Guarded<F> {
    match bulkhead {
        Ok(bulkhead) => bulkhead.guard(attempt),
        Err(err) => bulkhead::Guarded::refused(err),
    }
}

/// `rate_limit = ...`: the limiter's guard around an attempt (each attempt takes its own
/// turn); a limiter that could not be found refuses it with that error.
#[inline]
pub fn rate_limit<F: Future>(
    limiter: Result<&RateLimiter, Error>,
    attempt: F,
) -> rate_limit::Guarded<F> {
    match limiter {
        Ok(limiter) => limiter.guard(attempt),
        Err(err) => rate_limit::Guarded::refused(err),
    }
}

/// `adaptive = ...`: the adaptive bulkhead's guard around an attempt, sampled with
/// `classifier`; one that could not be found refuses it with that error.
#[inline]
pub fn adaptive<F, C, T, E>(
    limiter: Result<&AdaptiveBulkhead, Error>,
    classifier: C,
    attempt: F,
) -> adaptive::Guarded<F, C>
where
    F: Future<Output = Outcome<T, E>>,
    C: Classify<T, E>,
    E: 'static,
{
    match limiter {
        Ok(limiter) => limiter.guard(classifier, attempt),
        Err(err) => bulkhead::Guarded::refused(err).with_observer(Sampler::new(classifier)),
    }
}

/// `throttle = ...`: the throttle's guard around an attempt (judged or not), counting
/// [`Rejections`]; one that could not be found refuses it with that error.
#[inline]
pub fn throttle<F>(
    throttle: Result<&AdaptiveThrottle, Error>,
    attempt: F,
) -> throttling::Guarded<F, Rejections> {
    match throttle {
        Ok(throttle) => throttle.guard(Rejections, attempt),
        Err(err) => throttling::Guarded::refused(err, Rejections),
    }
}

/// `fault = ...`: the fault's draw around the body; a fault that could not be found fails
/// the attempt with that error (without running the body).
#[inline]
pub fn fault<F>(fault: Result<&Fault, Error>, attempt: F) -> Injected<F, FaultAnswer> {
    match fault {
        Ok(fault) => Injected::new(fault.decide(), attempt, FaultAnswer::Injected(FailWith)),
        Err(err) => {
            let answer = Injection {
                delay: None,
                action: Action::Answer,
            };
            Injected::new(answer, attempt, FaultAnswer::Missing(err))
        }
    }
}

/// What a call under `fault = ...` gets in place of its outcome: the injected error, or
/// the error of a fault that could not be found.
#[derive(Debug)]
pub enum FaultAnswer {
    /// The fault's own error answer.
    Injected(FailWith),
    /// The fault could not be found.
    Missing(Error),
}

impl<T, E> faults::Answer<T, E> for FaultAnswer {
    fn answer(self) -> Outcome<T, E> {
        match self {
            Self::Injected(answer) => answer.answer(),
            Self::Missing(err) => Err(err),
        }
    }
}

/// `deadline = "..."`: the whole call under a deadline `budget` from now (or the ambient
/// one, if earlier), counted under the operation's name.
#[inline]
pub fn deadline<F: Future>(
    budget: Duration,
    enforcer: &'static Cached<Enforcer>,
    operation: &'static str,
    call: F,
) -> Enforce<F> {
    enforcer
        .get_or_init(|| Enforcer::new(operation))
        .run(Deadline::after(budget), call)
}

/// `deadline = "name"`: the whole call under the named policy's `default_timeout` from
/// now (or the ambient deadline, if earlier; the ambient one alone when the policy has no
/// default), read at the call's start; a policy that could not be found refuses the call
/// with that error.
#[inline]
pub fn deadline_named<F: Future>(
    policy: Result<&DeadlinePolicy, Error>,
    call: F,
) -> NamedDeadline<F> {
    match policy {
        Ok(policy) => NamedDeadline {
            enforce: Some(match policy.default_timeout() {
                Some(budget) => policy.enforcer().run(Deadline::after(budget), call),
                None => policy.enforcer().enforce(call),
            }),
            error: None,
        },
        Err(error) => NamedDeadline {
            enforce: None,
            error: Some(error),
        },
    }
}

pin_project_lite::pin_project! {
    /// The future of [`deadline_named`]: the call under the policy's deadline, or the
    /// error of a policy that could not be found.
    #[derive(Debug)]
    pub struct NamedDeadline<F> {
        #[pin]
        enforce: Option<Enforce<F>>,
        error: Option<Error>,
    }
}

impl<F: Future> Future for NamedDeadline<F> {
    type Output = Result<F::Output, Error>;

    #[inline]
    fn poll(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        let this = self.project();
        match this.enforce.as_pin_mut() {
            Some(enforce) => enforce.poll(cx),
            None => std::task::Poll::Ready(Err(this
                .error
                .take()
                .expect("`NamedDeadline` polled after completion"))),
        }
    }
}

/// The outcome of a call run under [`deadline`]: a passed deadline is the call's error.
#[inline]
pub fn flatten<T, E>(result: Result<Outcome<T, E>, Error>) -> Outcome<T, E> {
    result.and_then(|outcome| outcome)
}

/// `hedge(...)`: one attempt, and a hedge from `attempts` each time the policy sends one.
#[inline]
pub fn hedging<A, F, T, E>(hedge: &Hedge, attempts: A) -> Hedging<&Hedge, A>
where
    A: FnMut() -> F,
    F: Future<Output = Judged<T, E>>,
{
    Hedging::new(hedge, attempts, |next| next())
}

/// `fallback = ...`: the fallback's work around the whole call.
#[inline]
pub fn fallback<'a, T, E, C, F>(
    fallback: &'a Fallback<T, E>,
    classifier: C,
    call: F,
) -> impl Future<Output = Outcome<T, E>> + 'a
where
    T: 'a,
    E: 'static,
    C: Classify<T, E> + 'a,
    F: Future<Output = Outcome<T, E>> + 'a,
{
    Map::new(fallback.guard((), classifier, call), Answered::into_outcome)
}

/// Records the number of the attempt about to be made in the current
/// (`resilience.call`) span's `attempt` field.
#[inline]
pub fn record_attempt(retry: &RetryLoop<&RetryPolicy>) {
    // Without any subscriber there is no span to record in; skip the span lookup.
    if tracing::dispatcher::has_been_set() {
        // As i64: exporters such as OpenTelemetry keep signed integers as numbers.
        tracing::Span::current().record(field::ATTEMPT, i64::from(retry.attempts()) + 1);
    }
}

/// Waits `delay` before the next attempt (no timer for a zero delay).
pub async fn sleep(delay: Duration) {
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
}

/// The function's result: a primitive's error becomes the user's `E`, with the operation
/// name added when no inner layer set one.
#[inline]
pub fn finish<T, E: FromError>(outcome: Outcome<T, E>, operation: &'static str) -> Result<T, E> {
    match outcome {
        Ok(result) => result,
        Err(err) => Err(E::from(err.or_operation(Name::from(operation)))),
    }
}

/// `From<resilience_core::Error>`, with a message that says why it is needed.
#[diagnostic::on_unimplemented(
    message = "`{Self}` must implement `From<resilience_core::Error>` to carry the errors of `#[resilient]`'s primitives",
    label = "the error type of this `Result` must implement `From<resilience_core::Error>`",
    note = "a timeout, a passed deadline, an open breaker or a full bulkhead reach the caller as this type; add `impl From<resilience_core::Error> for {Self}`"
)]
pub trait FromError: From<Error> {}

impl<E: From<Error>> FromError for E {}
