//! What went wrong ([`ErrorKind`]) and which primitive said so ([`Primitive`]).

use std::fmt;
use std::time::Duration;

use crate::Class;

/// What went wrong, in the vocabulary every primitive shares.
///
/// Matching on the kind tells a caller what to do: back off (`CircuitOpen`, `BulkheadFull`),
/// give up (`DeadlineExceeded`), fix the request (`InvalidRequest`), or look at the wrapped
/// error (`Inner`). New kinds may be added in minor releases, so `match` needs a `_` arm.
///
/// ```
/// use resilience_core::{Error, ErrorKind};
///
/// let err = Error::new(ErrorKind::BulkheadFull);
/// assert!(err.is_rejection());
/// assert_eq!(err.kind().as_str(), "bulkhead_full");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A circuit breaker is open (or half-open with every probe slot taken): the call was
    /// not made. `retry_after` says when the breaker will admit a probe.
    CircuitOpen,
    /// A bulkhead is at capacity and its wait queue is full or the wait timed out: the call
    /// was not made.
    BulkheadFull,
    /// The deadline passed: before the call (it was never made, a rejection) or while it
    /// ran (it was abandoned, see [`Error::during_call`](crate::Error::during_call)).
    DeadlineExceeded,
    /// One attempt took longer than its per-attempt timeout and was abandoned.
    Timeout,
    /// The operation failed and the shared retry budget had no retry left to spend; the
    /// last failure is the [`source`](std::error::Error::source).
    RetryBudgetExhausted,
    /// A request with the same idempotency key is still being processed (or was processed
    /// but its result could not be kept, so there is nothing to replay).
    IdempotencyConflict,
    /// An idempotency key was reused with a different request.
    IdempotencyMismatch,
    /// The request itself is malformed: a bad deadline header, a missing or malformed
    /// idempotency key. Retrying the same request cannot succeed.
    InvalidRequest,
    /// The request body is larger than a configured cap.
    PayloadTooLarge,
    /// A backing store (such as the Redis idempotency store) could not be reached and the
    /// primitive is configured to fail closed.
    StoreUnavailable,
    /// A rate limit has no room for the call: it was not made. `retry_after` says when
    /// the limit will have room.
    RateLimited,
    /// The service is shutting down and refuses new requests while the ones in flight
    /// finish (see `resilience_core::health`): the call was not made; another instance
    /// can take it.
    ShuttingDown,
    /// A client-side [adaptive throttle](crate::throttle) refused the call locally: the
    /// backend has been rejecting most calls, so this one was not sent.
    Throttled,
    /// A [fault injector](crate::fault) failed the call on purpose (an error answer or an
    /// abort): the operation was not called. Not a rejection and transient, so breakers
    /// and retries treat it as the failure it stands for.
    FaultInjected,
    /// The wrapped operation failed with its own error, kept as the
    /// [`source`](std::error::Error::source).
    Inner,
}

impl ErrorKind {
    /// Every kind, in declaration order. More may be added in minor releases.
    pub const ALL: &'static [ErrorKind] = &[
        ErrorKind::CircuitOpen,
        ErrorKind::BulkheadFull,
        ErrorKind::DeadlineExceeded,
        ErrorKind::Timeout,
        ErrorKind::RetryBudgetExhausted,
        ErrorKind::IdempotencyConflict,
        ErrorKind::IdempotencyMismatch,
        ErrorKind::InvalidRequest,
        ErrorKind::PayloadTooLarge,
        ErrorKind::StoreUnavailable,
        ErrorKind::RateLimited,
        ErrorKind::ShuttingDown,
        ErrorKind::Throttled,
        ErrorKind::FaultInjected,
        ErrorKind::Inner,
    ];

    /// A stable `snake_case` identifier, used in logs, metrics and problem+json bodies.
    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorKind::CircuitOpen => "circuit_open",
            ErrorKind::BulkheadFull => "bulkhead_full",
            ErrorKind::DeadlineExceeded => "deadline_exceeded",
            ErrorKind::Timeout => "timeout",
            ErrorKind::RetryBudgetExhausted => "retry_budget_exhausted",
            ErrorKind::IdempotencyConflict => "idempotency_conflict",
            ErrorKind::IdempotencyMismatch => "idempotency_mismatch",
            ErrorKind::InvalidRequest => "invalid_request",
            ErrorKind::PayloadTooLarge => "payload_too_large",
            ErrorKind::StoreUnavailable => "store_unavailable",
            ErrorKind::RateLimited => "rate_limited",
            ErrorKind::ShuttingDown => "shutting_down",
            ErrorKind::Throttled => "throttled",
            ErrorKind::FaultInjected => "fault_injected",
            ErrorKind::Inner => "inner",
        }
    }

    /// A short lowercase description, the start of the error's `Display` line.
    pub const fn description(self) -> &'static str {
        match self {
            ErrorKind::CircuitOpen => "circuit breaker is open",
            ErrorKind::BulkheadFull => "bulkhead is full",
            ErrorKind::DeadlineExceeded => "deadline exceeded",
            ErrorKind::Timeout => "attempt timed out",
            ErrorKind::RetryBudgetExhausted => "operation failed and the retry budget is exhausted",
            ErrorKind::IdempotencyConflict => "a request with this idempotency key is in flight",
            ErrorKind::IdempotencyMismatch => "idempotency key reused with a different request",
            ErrorKind::InvalidRequest => "invalid request",
            ErrorKind::PayloadTooLarge => "payload too large",
            ErrorKind::StoreUnavailable => "backing store unavailable",
            ErrorKind::RateLimited => "rate limit exceeded",
            ErrorKind::ShuttingDown => "the service is shutting down",
            ErrorKind::Throttled => "throttled locally: the backend is rejecting most calls",
            ErrorKind::FaultInjected => "fault injected",
            ErrorKind::Inner => "operation failed",
        }
    }

    /// Whether an error of this kind, as created by [`Error::new`](crate::Error::new),
    /// means the operation was never called.
    ///
    /// `DeadlineExceeded` starts as a rejection (the deadline had passed before the call);
    /// a primitive that abandons a running call marks it with
    /// [`Error::during_call`](crate::Error::during_call). `RetryBudgetExhausted` is not a
    /// rejection: the operation was called and failed, only the retry was refused.
    pub const fn is_rejection_by_default(self) -> bool {
        matches!(
            self,
            ErrorKind::CircuitOpen
                | ErrorKind::BulkheadFull
                | ErrorKind::DeadlineExceeded
                | ErrorKind::IdempotencyConflict
                | ErrorKind::IdempotencyMismatch
                | ErrorKind::InvalidRequest
                | ErrorKind::PayloadTooLarge
                | ErrorKind::StoreUnavailable
                | ErrorKind::RateLimited
                | ErrorKind::ShuttingDown
                | ErrorKind::Throttled
        )
    }

    /// The class an error of this kind has when no classifier decided one, with the
    /// error's `retry_after` hint where the class takes one.
    ///
    /// | kind | class | why |
    /// |---|---|---|
    /// | `Inner`, `Timeout`, `FaultInjected` | `Transient` | the default: a failed or slow attempt may work next time |
    /// | `CircuitOpen`, `BulkheadFull`, `RateLimited`, `StoreUnavailable`, `IdempotencyConflict`, `Throttled` | `Transient` | the condition passes; the hint says when |
    /// | `ShuttingDown` | `Transient` | another instance can serve the call |
    /// | `DeadlineExceeded` | `Permanent` | no later attempt fits in the same deadline |
    /// | `RetryBudgetExhausted` | `Permanent` | retries were already refused; retrying again outside would multiply load |
    /// | `InvalidRequest`, `IdempotencyMismatch`, `PayloadTooLarge` | `Benign` | the request is at fault: never retried, never the dependency's failure |
    ///
    /// Rejections ([`Error::is_rejection`](crate::Error::is_rejection)) are also never
    /// counted by a circuit breaker, whatever their class: a breaker measures the
    /// dependency, and a rejected call never reached it.
    pub const fn default_class(self, retry_after: Option<Duration>) -> Class {
        match self {
            ErrorKind::DeadlineExceeded | ErrorKind::RetryBudgetExhausted => Class::Permanent,
            ErrorKind::InvalidRequest
            | ErrorKind::IdempotencyMismatch
            | ErrorKind::PayloadTooLarge => Class::Benign,
            _ => Class::Transient { retry_after },
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.description())
    }
}

/// Which kind of primitive produced an error or a metric.
///
/// [`as_str`](Primitive::as_str) is the value of the `primitive` metric label.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Primitive {
    /// A circuit breaker.
    CircuitBreaker,
    /// A retry policy.
    Retry,
    /// A deadline (ambient or from a wire header).
    Deadline,
    /// A bulkhead (concurrency limit).
    Bulkhead,
    /// A per-attempt timeout.
    Timeout,
    /// An idempotency store or layer.
    Idempotency,
    /// A hedging policy (extra attempts for slow calls).
    Hedge,
    /// A fallback (an answer in place of a failure).
    Fallback,
    /// Request coalescing (one call shared by identical requests).
    Coalesce,
    /// A rate limiter.
    RateLimit,
    /// Health checks, startup and graceful shutdown (`resilience_core::health`).
    Health,
    /// A client-side adaptive throttle.
    Throttle,
    /// A fault injector.
    Fault,
}

impl Primitive {
    /// Every primitive, in declaration order. More may be added in minor releases.
    pub const ALL: &'static [Primitive] = &[
        Primitive::CircuitBreaker,
        Primitive::Retry,
        Primitive::Deadline,
        Primitive::Bulkhead,
        Primitive::Timeout,
        Primitive::Idempotency,
        Primitive::Hedge,
        Primitive::Fallback,
        Primitive::Coalesce,
        Primitive::RateLimit,
        Primitive::Health,
        Primitive::Throttle,
        Primitive::Fault,
    ];

    /// A stable `snake_case` identifier, the value of the `primitive` metric label.
    pub const fn as_str(self) -> &'static str {
        match self {
            Primitive::CircuitBreaker => "circuit_breaker",
            Primitive::Retry => "retry",
            Primitive::Deadline => "deadline",
            Primitive::Bulkhead => "bulkhead",
            Primitive::Timeout => "timeout",
            Primitive::Idempotency => "idempotency",
            Primitive::Hedge => "hedge",
            Primitive::Fallback => "fallback",
            Primitive::Coalesce => "coalesce",
            Primitive::RateLimit => "rate_limit",
            Primitive::Health => "health",
            Primitive::Throttle => "throttle",
            Primitive::Fault => "fault",
        }
    }
}

impl fmt::Display for Primitive {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
