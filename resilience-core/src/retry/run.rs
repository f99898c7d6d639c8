//! The function-level API: retrying an async closure.

use std::any::Any;
use std::future::Future;

use super::RetryPolicy;
use super::call::{AttemptLimit, Decision, Outcome, RetryCall, Stop};
use crate::classify::TransientErrors;
use crate::{BoxError, Classify, Error, ErrorKind};

/// How a call failed: the last attempt's error and why retrying stopped.
struct Failure<E> {
    last: Last<E>,
    stop: Stop,
    call: RetryCall,
}

enum Last<E> {
    /// The operation's own error.
    Op(E),
    /// An error this policy made (attempt timeout, deadline).
    Ours(Error),
}

impl RetryPolicy {
    /// Runs `op` until it succeeds or the policy stops, classifying with
    /// [`TransientErrors`]; failures come out as [`Error`].
    ///
    /// The last attempt's error is converted with [`Error::wrap`] (a
    /// [`resilience_core::Error`](crate::Error) passes through, anything else is kept as
    /// the source of an [`ErrorKind::Inner`]) and passed through
    /// [`finish`](RetryPolicy::finish): attempts, elapsed time, field `retry_stop`, and
    /// kind `RetryBudgetExhausted` when the budget refused the retry.
    pub async fn run<T, E, F, Fut>(&self, op: F) -> Result<T, Error>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
        E: Into<BoxError> + 'static,
    {
        self.run_with(&TransientErrors, op).await
    }

    /// [`run`](RetryPolicy::run) with a classifier of your own.
    pub async fn run_with<T, E, F, Fut, C>(&self, classifier: &C, op: F) -> Result<T, Error>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
        E: Into<BoxError> + 'static,
        C: Classify<T, E> + ?Sized,
    {
        self.drive(classifier, op).await.map_err(|f| {
            let last = match f.last {
                Last::Op(e) => Error::wrap(e),
                Last::Ours(e) => e,
            };
            self.finish(&f.call, last, f.stop)
        })
    }

    /// Runs `op` until it succeeds or the policy stops, classifying with
    /// [`TransientErrors`], and keeps your error type: what `#[resilient]` calls.
    ///
    /// The final failure is the last attempt's own `E`, unchanged, whatever stopped the
    /// retries (the reason is in the metrics and the `tracing` events). Errors the policy
    /// itself makes (an attempt timeout, a deadline) arrive through `E::from`. When `E` is
    /// [`resilience_core::Error`](crate::Error) itself, the last error is passed through
    /// [`finish`](RetryPolicy::finish) as in [`run`](RetryPolicy::run).
    pub async fn run_typed<T, E, F, Fut>(&self, op: F) -> Result<T, E>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
        E: From<Error> + 'static,
    {
        self.run_typed_with(&TransientErrors, op).await
    }

    /// [`run_typed`](RetryPolicy::run_typed) with a classifier of your own.
    pub async fn run_typed_with<T, E, F, Fut, C>(&self, classifier: &C, op: F) -> Result<T, E>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
        E: From<Error> + 'static,
        C: Classify<T, E> + ?Sized,
    {
        self.drive(classifier, op).await.map_err(|f| match f.last {
            Last::Ours(e) => E::from(self.finish(&f.call, e, f.stop)),
            Last::Op(mut e) => {
                if let Some(err) = (&mut e as &mut dyn Any).downcast_mut::<Error>() {
                    let last = std::mem::replace(err, Error::new(ErrorKind::Inner));
                    *err = self.finish(&f.call, last, f.stop);
                }
                e
            }
        })
    }

    async fn drive<T, E, F, Fut, C>(&self, classifier: &C, mut op: F) -> Result<T, Failure<E>>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
        E: 'static,
        C: Classify<T, E> + ?Sized,
    {
        let mut call = self.start();
        loop {
            let limit = self.attempt_limit(&call);
            let result = match limit {
                AttemptLimit::Unbounded => Ok(op().await),
                AttemptLimit::Within { timeout, .. } => tokio::time::timeout(timeout, op())
                    .await
                    .map_err(|_| self.limit_error(limit)),
                AttemptLimit::Expired => Err(self.limit_error(limit)),
            };
            let outcome = match &result {
                Ok(result) => Outcome::of(classifier.classify(result), result),
                Err(ours) => Outcome::of_error(ours),
            };
            let stop = match self.decide(&mut call, outcome) {
                Decision::Retry { delay } => {
                    if !delay.is_zero() {
                        tokio::time::sleep(delay).await;
                    }
                    continue;
                }
                Decision::Return => None,
                Decision::Stop(stop) => Some(stop),
            };
            let last = match result {
                Ok(Ok(value)) => return Ok(value),
                Ok(Err(e)) => Last::Op(e),
                Err(ours) => Last::Ours(ours),
            };
            let stop = stop.unwrap_or(Stop::NotRetryable);
            return Err(Failure { last, stop, call });
        }
    }
}
