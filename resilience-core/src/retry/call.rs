//! The per-call state machine and the decision rule: [`RetryPolicy::start`] → for each
//! attempt, [`attempt_limit`](RetryPolicy::attempt_limit) (how long it may run), run it,
//! [`decide`](RetryPolicy::decide) on what it gave → sleep the delay and go again, or stop
//! and [`finish`](RetryPolicy::finish) the last error. Private: [`RetryLoop`] drives it
//! (and [`Retrying`] drives that).
//!
//! [`RetryLoop`]: super::RetryLoop
//! [`Retrying`]: super::Retrying

use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use metrics::Counter;
use tokio::time::Instant;

use super::RetryPolicy;
use super::backoff::{FastRng, mix};
use crate::durations::unpack;
use crate::error::find;
use crate::telemetry::{label, metric, outcome};
use crate::{Class, Deadline, Error, ErrorKind, Name, Primitive};

/// Metric handles, resolved once per policy.
pub(crate) struct Meters {
    success: Counter,
    failure: Counter,
    benign: Counter,
    rejected: Counter,
    timeout: Counter,
    exhausted: Counter,
}

impl Meters {
    pub(crate) fn new(name: &Name) -> Self {
        let attempts = |o: &'static str| {
            metrics::counter!(
                metric::RETRY_ATTEMPTS_TOTAL,
                label::NAME => name.to_shared_string(),
                label::OUTCOME => o,
            )
        };
        Self {
            success: attempts(outcome::SUCCESS),
            failure: attempts(outcome::FAILURE),
            benign: attempts(outcome::BENIGN),
            rejected: attempts(outcome::REJECTED),
            timeout: attempts(outcome::TIMEOUT),
            exhausted: metrics::counter!(
                metric::RETRY_BUDGET_EXHAUSTED_TOTAL,
                label::NAME => name.to_shared_string(),
            ),
        }
    }
}

impl std::fmt::Debug for Meters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Meters")
    }
}

/// The state of one call through a [`RetryPolicy`]: attempts made, the call's deadline,
/// the previous delay and the jitter's random source. Made by [`RetryPolicy::start`].
#[derive(Debug)]
pub(crate) struct RetryCall {
    attempts: u32,
    start: Option<Instant>,
    deadline: Option<Deadline>,
    /// The previous delay; `None` before the first retry (the backoff's base then).
    prev: Option<Duration>,
    rng: Option<FastRng>,
    replayable: bool,
    /// The `max_attempts` the call keeps from its first failure on; 0 until then.
    max_attempts: u32,
}

impl RetryCall {
    /// A call not started yet (no budget deposit, no deadline read): a placeholder until
    /// [`RetryPolicy::start`].
    pub(crate) const fn unstarted() -> Self {
        Self {
            attempts: 0,
            start: None,
            deadline: None,
            prev: None,
            rng: None,
            replayable: true,
            max_attempts: 0,
        }
    }

    /// Marks the call as one that cannot be repeated (a request whose body could not be
    /// kept for replay): its first failure is final, with [`Stop::NotReplayable`].
    pub(crate) fn set_replayable(&mut self, replayable: bool) {
        self.replayable = replayable;
    }

    /// Attempts made so far.
    pub(crate) fn attempts(&self) -> u32 {
        self.attempts
    }

    /// The deadline this call keeps to: the ambient one, or `max_elapsed` from the start,
    /// whichever is earlier.
    pub(crate) fn deadline(&self) -> Option<Deadline> {
        self.deadline
    }
}

/// How long the next attempt may run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AttemptLimit {
    /// No attempt timeout and no deadline: run it as it is.
    Unbounded,
    /// Abandon the attempt after this long (the attempt timeout, sooner than the
    /// deadline if there is one).
    Within(Duration),
    /// Abandon the attempt at the call's deadline.
    ByDeadline,
    /// The deadline has passed: do not make the attempt.
    Expired,
}

/// What an attempt gave, as [`RetryPolicy::decide`] needs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Observation {
    class: Class,
    rejection: bool,
    timed_out: bool,
    /// The policy's own deadline error: the call stops with [`Stop::Deadline`].
    deadline: bool,
}

impl Observation {
    /// The operation's own `result`, judged as `class`: a rejection if the error is a
    /// [`resilience_core::Error`](crate::Error) (possibly boxed) that
    /// [is a rejection](crate::Error::is_rejection).
    #[inline]
    pub(crate) fn of<T, E: 'static>(class: Class, result: &Result<T, E>) -> Self {
        let rejection = match result {
            Ok(_) => false,
            Err(err) => find(err).is_some_and(Error::is_rejection),
        };
        Self {
            class,
            rejection,
            timed_out: false,
            deadline: false,
        }
    }

    /// A primitive's error (a timeout, an expired deadline, an open breaker).
    pub(crate) fn of_error(err: &Error) -> Self {
        Self {
            class: err.effective_class(),
            rejection: err.is_rejection(),
            timed_out: matches!(err.kind(), ErrorKind::Timeout | ErrorKind::DeadlineExceeded)
                && !err.is_rejection(),
            deadline: err.kind() == ErrorKind::DeadlineExceeded,
        }
    }
}

/// What to do after an attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Decision {
    /// The attempt succeeded: return its result.
    Return,
    /// Sleep `delay`, then make another attempt.
    Retry {
        /// How long to wait first.
        delay: Duration,
    },
    /// Stop and return the attempt's result (passing errors through
    /// [`RetryPolicy::finish`]).
    Stop(Stop),
}

/// Why a call stopped retrying. The error context says it as field `retry_stop`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Stop {
    /// The outcome is not retried (permanent, benign, or a rejection without a hint).
    NotRetryable,
    /// `max_attempts` attempts were made.
    MaxAttempts,
    /// The server asked to wait longer than `max_retry_after`.
    RetryAfterTooLong,
    /// The next delay would end at or past the deadline.
    Deadline,
    /// The request cannot be replayed (its body was not kept, or its method is not
    /// idempotent).
    NotReplayable,
    /// The retry budget was empty.
    BudgetExhausted,
}

impl Stop {
    /// A stable `snake_case` identifier: the value of the error field `retry_stop`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Stop::NotRetryable => "not_retryable",
            Stop::MaxAttempts => "max_attempts",
            Stop::RetryAfterTooLong => "retry_after_too_long",
            Stop::Deadline => "deadline",
            Stop::NotReplayable => "not_replayable",
            Stop::BudgetExhausted => "budget_exhausted",
        }
    }
}

impl RetryPolicy {
    /// Starts a call: deposits in the budget and reads the ambient deadline. Reads the
    /// clock only if `max_elapsed` is set.
    #[inline(always)]
    pub(crate) fn start(&self) -> RetryCall {
        let s = &*self.shared;
        if s.budget_is_built.load(Relaxed) {
            if let Some(budget) = &s.built_budget {
                budget.deposit();
            }
        } else {
            self.deposit_reconfigured();
        }
        let deadline = Deadline::current();
        match unpack(s.max_elapsed.load(Relaxed)) {
            None => RetryCall {
                attempts: 0,
                start: None,
                deadline,
                prev: None,
                rng: None,
                replayable: true,
                max_attempts: 0,
            },
            Some(budget) => Self::start_bounded(deadline, budget),
        }
    }

    /// [`start`](Self::start)'s deposit once a reconfiguration changed the budget.
    #[cold]
    #[inline(never)]
    fn deposit_reconfigured(&self) {
        if let Some(budget) = &self.shared.tuned.load().budget {
            budget.deposit();
        }
    }

    /// [`start`](Self::start) of a policy with `max_elapsed`: reads the clock.
    #[inline(never)]
    fn start_bounded(deadline: Option<Deadline>, budget: Duration) -> RetryCall {
        let now = Instant::now();
        let own = now
            .checked_add(budget)
            .map_or_else(|| Deadline::after(budget), Deadline::at);
        RetryCall {
            attempts: 0,
            start: Some(now),
            deadline: Some(deadline.map_or(own, |d| d.min(own))),
            prev: None,
            rng: None,
            replayable: true,
            max_attempts: 0,
        }
    }

    /// How long the next attempt of `call` may run: the attempt timeout, clamped to what
    /// is left of the deadline.
    #[inline]
    pub(crate) fn attempt_limit(&self, call: &RetryCall) -> AttemptLimit {
        let timeout = unpack(self.shared.attempt_timeout.load(Relaxed));
        match (call.deadline, timeout) {
            (None, None) => AttemptLimit::Unbounded,
            (None, Some(timeout)) => AttemptLimit::Within(timeout),
            (Some(deadline), timeout) => {
                // Instants compared, not a duration computed: the common case (no
                // attempt timeout) needs no more than "has the deadline passed".
                let now = Instant::now();
                let at = deadline.instant();
                if at <= now {
                    return AttemptLimit::Expired;
                }
                match timeout {
                    Some(t) if now.checked_add(t).is_some_and(|end| end < at) => {
                        AttemptLimit::Within(t)
                    }
                    _ => AttemptLimit::ByDeadline,
                }
            }
        }
    }

    /// The error for an attempt cut off by `limit` (or not made because it was
    /// [`Expired`](AttemptLimit::Expired)).
    pub(crate) fn limit_error(&self, limit: AttemptLimit) -> Error {
        let err = match limit {
            AttemptLimit::Within(_) => Error::new(ErrorKind::Timeout),
            AttemptLimit::ByDeadline => Error::new(ErrorKind::DeadlineExceeded).during_call(),
            AttemptLimit::Unbounded | AttemptLimit::Expired => {
                Error::new(ErrorKind::DeadlineExceeded)
            }
        };
        err.with_primitive(Primitive::Retry)
            .with_instance(self.shared.name.clone())
    }

    /// Records an attempt's outcome and decides what comes next. The rule is in the
    /// [module docs](super#what-is-retried).
    #[inline]
    pub(crate) fn decide(&self, call: &mut RetryCall, outcome: Observation) -> Decision {
        call.attempts = call.attempts.saturating_add(1);
        // The common case, inlined into the caller: a plain success.
        if let Observation {
            class: Class::Success,
            rejection: false,
            timed_out: false,
            ..
        } = outcome
        {
            self.shared.meters.success.increment(1);
            return Decision::Return;
        }
        self.decide_other(call, outcome)
    }

    /// [`decide`](Self::decide) for every outcome but a plain success.
    #[inline(never)]
    fn decide_other(&self, call: &mut RetryCall, outcome: Observation) -> Decision {
        let s = &*self.shared;
        let m = &s.meters;
        let counter = match outcome.class {
            _ if outcome.timed_out => &m.timeout,
            _ if outcome.rejection => &m.rejected,
            Class::Success => &m.success,
            Class::Benign => &m.benign,
            _ => &m.failure,
        };
        counter.increment(1);
        let hint = match outcome.class {
            Class::Success => return Decision::Return,
            Class::Transient { retry_after } => retry_after,
            // The deadline cut the attempt off, or passed before it: say so.
            _ if outcome.deadline => return Decision::Stop(Stop::Deadline),
            _ => return Decision::Stop(Stop::NotRetryable),
        };
        if call.start.is_none() {
            call.start = Some(Instant::now());
        }
        if !call.replayable {
            return Decision::Stop(Stop::NotReplayable);
        }
        if outcome.rejection && hint.is_none() {
            return Decision::Stop(Stop::NotRetryable);
        }
        let t = s.tuned.load();
        // `max_attempts` as at the call's first failure, kept for the rest of it.
        if call.max_attempts == 0 {
            call.max_attempts = t.max_attempts;
        }
        if call.attempts >= call.max_attempts {
            return Decision::Stop(Stop::MaxAttempts);
        }
        if hint.is_some_and(|h| h > t.max_retry_after) {
            return Decision::Stop(Stop::RetryAfterTooLong);
        }
        let rng = call.rng.get_or_insert_with(|| {
            let n = s.calls.fetch_add(1, Relaxed);
            FastRng::new(mix(s.seed ^ mix(n)))
        });
        let prev = call.prev.unwrap_or_else(|| t.backoff.base());
        let jittered = t
            .jitter
            .apply(&t.backoff, call.attempts, t.max_delay, prev, rng);
        call.prev = Some(jittered);
        let delay = hint.map_or(jittered, |h| jittered.max(h));
        if let Some(deadline) = call.deadline
            && delay >= deadline.remaining()
        {
            tracing::event!(
                target: "resilience",
                tracing::Level::INFO,
                retry.name = s.name.as_str(),
                attempt = call.attempts,
                delay_seconds = delay.as_secs_f64(),
                deadline.remaining_seconds = deadline.remaining().as_secs_f64(),
                "retry: not retrying, the next delay would end past the deadline",
            );
            return Decision::Stop(Stop::Deadline);
        }
        if let Some(budget) = &t.budget
            && !budget.try_withdraw()
        {
            m.exhausted.increment(1);
            tracing::event!(
                target: "resilience",
                tracing::Level::WARN,
                retry.name = s.name.as_str(),
                attempt = call.attempts,
                "retry: not retrying, the retry budget is exhausted",
            );
            return Decision::Stop(Stop::BudgetExhausted);
        }
        tracing::event!(
            target: "resilience",
            tracing::Level::INFO,
            retry.name = s.name.as_str(),
            attempt = call.attempts,
            delay_seconds = delay.as_secs_f64(),
            class = outcome.class.as_str(),
            retry_after_seconds = hint.map(|h| h.as_secs_f64()),
            "retry: attempt failed, retrying",
        );
        Decision::Retry { delay }
    }

    /// The error a stopped call returns, made from the last attempt's error: with the
    /// attempts made, the time spent, and field `retry_stop`; for
    /// [`Stop::BudgetExhausted`], a new error of kind
    /// [`RetryBudgetExhausted`](ErrorKind::RetryBudgetExhausted) with `last` as its source
    /// (absorbed, see [`Error::with_source`]).
    pub(crate) fn finish(&self, call: &RetryCall, last: Error, stop: Stop) -> Error {
        let s = &*self.shared;
        let mut err = last
            .with_attempts(call.attempts)
            .with_field("retry_stop", stop.as_str());
        if let Some(start) = call.start {
            err = err.with_elapsed(start.elapsed());
        }
        if stop == Stop::BudgetExhausted {
            err = Error::new(ErrorKind::RetryBudgetExhausted)
                .with_primitive(Primitive::Retry)
                .with_instance(s.name.clone())
                .with_source(err);
        }
        err
    }
}
