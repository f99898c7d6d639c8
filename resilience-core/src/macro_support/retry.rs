//! `retry(...)`: the policy built from the attribute's options, and the loop's steps over
//! [`RetryPolicy`]'s state machine (`start` → `attempt_limit` → `decide` → `finish`).

use std::any::Any;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use pin_project_lite::pin_project;

use super::{Judged, Outcome};
use crate::retry::{
    AttemptLimit, Backoff, Decision, Jitter, RetryBudget, RetryCall, RetryPolicy, Stop,
};
use crate::telemetry::field;
use crate::{Error, ErrorKind, Primitive};

/// The delay curve named by `backoff = "..."`.
#[derive(Clone, Copy, Debug)]
pub enum BackoffKind {
    /// `"constant"`: `base` before every retry.
    Constant,
    /// `"linear"`: `base`, `2 * base`, `3 * base`, ...
    Linear,
    /// `"exponential"`: `base`, `2 * base`, `4 * base`, ...
    Exponential,
}

/// The options of `retry(...)`; `None` keeps the policy's default.
#[derive(Debug)]
pub struct RetrySpec {
    /// The operation name, which names the policy (metric label, error context).
    pub name: &'static str,
    /// `attempts`.
    pub attempts: Option<u32>,
    /// `backoff`.
    pub backoff: Option<BackoffKind>,
    /// `base`.
    pub base: Option<Duration>,
    /// `max`.
    pub max: Option<Duration>,
    /// `jitter`.
    pub jitter: Option<Jitter>,
}

/// The default first delay of [`RetryPolicy`] (exponential from 100 ms).
const DEFAULT_BASE: Duration = Duration::from_millis(100);
/// The default cap of [`RetryPolicy`]'s delays.
const DEFAULT_MAX: Duration = Duration::from_secs(10);

/// Builds the policy of one function. `budget`: a shared budget (`budget = ...`), else the
/// policy's own.
pub fn retry_policy(
    spec: RetrySpec,
    budget: Option<Result<&RetryBudget, Error>>,
) -> Result<RetryPolicy, Error> {
    let mut builder = RetryPolicy::builder().name(spec.name);
    if let Some(attempts) = spec.attempts {
        builder = builder.max_attempts(attempts);
    }
    if spec.backoff.is_some() || spec.base.is_some() {
        let base = spec.base.unwrap_or(DEFAULT_BASE);
        builder = builder.backoff(match spec.backoff.unwrap_or(BackoffKind::Exponential) {
            BackoffKind::Constant => Backoff::constant(base),
            BackoffKind::Linear => Backoff::linear(base, base),
            BackoffKind::Exponential => Backoff::exponential(base),
        });
        // A first delay above the default cap raises the cap rather than failing.
        if spec.max.is_none() && base > DEFAULT_MAX {
            builder = builder.max_delay(base);
        }
    }
    if let Some(max) = spec.max {
        builder = builder.max_delay(max);
    }
    if let Some(jitter) = spec.jitter {
        builder = builder.jitter(jitter);
    }
    if let Some(budget) = budget {
        builder = builder.budget(budget?.clone());
    }
    builder
        .build()
        .map_err(|err| super::instances::config_error(err, Primitive::Retry, spec.name))
}

/// Waits `delay` before the next attempt (no timer for a zero delay).
pub async fn sleep(delay: Duration) {
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
}

/// One call's retry loop state.
#[derive(Debug)]
pub struct RetryRun<'a> {
    policy: &'a RetryPolicy,
    call: RetryCall,
}

/// What the loop does after an attempt.
#[derive(Debug)]
pub enum Next<T, E> {
    /// Return this outcome.
    Done(Outcome<T, E>),
    /// Sleep this long (see [`sleep`]), then make another attempt.
    Retry(Duration),
}

impl<'a> RetryRun<'a> {
    /// Starts a call (deposits in the budget, reads the ambient deadline).
    #[inline]
    pub fn start(policy: &'a RetryPolicy) -> Self {
        Self {
            policy,
            call: policy.start(),
        }
    }

    /// One attempt, cut off at the call's deadline (not made at all if it has passed);
    /// records the attempt's number in the current (`resilience.call`) span's `attempt`
    /// field.
    pub fn attempt<F: Future>(&mut self, attempt: F) -> RetryAttempt<'a, F> {
        // Without any subscriber there is no span to record in; skip the span lookup.
        if tracing::dispatcher::has_been_set() {
            tracing::Span::current().record(field::ATTEMPT, self.call.attempts() + 1);
        }
        let limit = self.policy.attempt_limit(&self.call);
        let state = match limit {
            AttemptLimit::Unbounded => AttemptState::Unbounded { attempt },
            AttemptLimit::Within { timeout, .. } => AttemptState::Within {
                attempt: tokio::time::timeout(timeout, attempt),
                policy: self.policy,
                limit,
            },
            AttemptLimit::Expired => AttemptState::Expired {
                error: Some(self.policy.limit_error(limit)),
            },
        };
        RetryAttempt { state }
    }

    /// Decides on an attempt's outcome: another attempt after a delay, or the outcome. A stopped call's own `E` comes back unchanged (as
    /// [`RetryPolicy::run_typed`] does); a primitive's error, or an `E` that is an
    /// [`Error`], gets the attempts, the elapsed time and the reason it stopped.
    #[inline]
    pub fn next<T, E: 'static>(&mut self, judged: Judged<T, E>) -> Next<T, E> {
        let outcome = match &judged.outcome {
            Ok(result) => crate::retry::Outcome::of(judged.class, result),
            Err(err) => crate::retry::Outcome::of_error(err),
        };
        match self.policy.decide(&mut self.call, outcome) {
            Decision::Return => Next::Done(judged.outcome),
            Decision::Retry { delay } => Next::Retry(delay),
            Decision::Stop(stop) => Next::Done(self.stopped(judged.outcome, stop)),
        }
    }

    fn stopped<T, E: 'static>(&self, outcome: Outcome<T, E>, stop: Stop) -> Outcome<T, E> {
        match outcome {
            Ok(Err(mut err)) => {
                if let Some(err) = (&mut err as &mut dyn Any).downcast_mut::<Error>() {
                    let last = std::mem::replace(err, Error::new(ErrorKind::Inner));
                    *err = self.policy.finish(&self.call, last, stop);
                }
                Ok(Err(err))
            }
            Err(err) => Err(self.policy.finish(&self.call, err, stop)),
            ok => ok,
        }
    }
}

pin_project! {
    /// The future of [`RetryRun::attempt`].
    #[must_use = "futures do nothing unless polled"]
    #[derive(Debug)]
    pub struct RetryAttempt<'a, F> {
        #[pin]
        state: AttemptState<'a, F>,
    }
}

pin_project! {
    #[project = AttemptProj]
    #[derive(Debug)]
    enum AttemptState<'a, F> {
        // No deadline: the attempt as it is.
        Unbounded { #[pin] attempt: F },
        // Cut off at the deadline; `policy` and `limit` make the error if it is.
        Within {
            #[pin]
            attempt: tokio::time::Timeout<F>,
            policy: &'a RetryPolicy,
            limit: AttemptLimit,
        },
        // The deadline had passed: not made.
        Expired { error: Option<Error> },
    }
}

impl<T, E, F> Future for RetryAttempt<'_, F>
where
    F: Future<Output = Judged<T, E>>,
{
    type Output = Judged<T, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            AttemptProj::Unbounded { attempt } => attempt.poll(cx),
            AttemptProj::Within {
                attempt,
                policy,
                limit,
            } => attempt
                .poll(cx)
                .map(|done| done.unwrap_or_else(|_| Judged::error(policy.limit_error(*limit)))),
            AttemptProj::Expired { error } => Poll::Ready(Judged::error(
                error
                    .take()
                    .unwrap_or_else(|| Error::new(ErrorKind::DeadlineExceeded)),
            )),
        }
    }
}
