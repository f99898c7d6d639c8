//! The function-level API: retrying an async closure, as a [`Retrying`] future.

use std::future::Future;

use super::{RetryLoop, RetryPolicy, Retrying};
use crate::classify::TransientErrors;
use crate::outcome::{self, Judged, Map, Outcome};
use crate::{BoxError, Classify, Error};

impl RetryPolicy {
    /// Runs `op` until it succeeds or the policy stops, classifying with
    /// [`TransientErrors`]; failures come out as [`Error`].
    ///
    /// The last attempt's error is converted with [`Error::wrap`] (a
    /// [`resilience_core::Error`](crate::Error) passes through, anything else is kept as
    /// the source of an [`ErrorKind::Inner`](crate::ErrorKind::Inner)) and carries the
    /// attempts, the elapsed time and the field `retry_stop` (kind `RetryBudgetExhausted`
    /// when the budget refused the retry).
    ///
    /// # Errors
    ///
    /// The last attempt's error, or the policy's own (an attempt timeout, the deadline).
    #[inline]
    pub fn run<T, E, F, Fut>(&self, op: F) -> impl Future<Output = Result<T, Error>>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
        E: Into<BoxError> + 'static,
    {
        self.run_with(&TransientErrors, op)
    }

    /// [`run`](RetryPolicy::run) with a classifier of your own.
    ///
    /// # Errors
    ///
    /// As [`run`](RetryPolicy::run).
    #[inline]
    pub fn run_with<T, E, F, Fut, C>(
        &self,
        classifier: &C,
        mut op: F,
    ) -> impl Future<Output = Result<T, Error>>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
        E: Into<BoxError> + 'static,
        C: Classify<T, E> + ?Sized,
    {
        // Judged on the operation's own error, then carried as an `Error` so that the
        // loop can add its context to any error, not only to a `resilience_core::Error`.
        let attempts = move || {
            let attempt = outcome::judge(classifier, outcome::lift(op()));
            Map::new(attempt, |Judged { outcome, class }: Judged<T, E>| Judged {
                outcome: outcome.map(|result| result.map_err(Error::wrap)),
                class,
            })
        };
        Map::new(Retrying::unstarted(self, attempts), outcome::into_result)
    }

    /// Runs `op` until it succeeds or the policy stops, classifying with
    /// [`TransientErrors`], and keeps your error type.
    ///
    /// The final failure is the last attempt's own `E`, unchanged, whatever stopped the
    /// retries (the reason is in the metrics and the `tracing` events). Errors the policy
    /// itself makes (an attempt timeout, a deadline) arrive through `E::from`, with the
    /// retry context. When `E` is [`resilience_core::Error`](crate::Error) itself (or a
    /// [`BoxError`] holding one), the last error gets the retry context as with
    /// [`run`](RetryPolicy::run).
    ///
    /// # Errors
    ///
    /// As [`run`](RetryPolicy::run), in your error type.
    #[inline]
    pub fn run_typed<T, E, F, Fut>(&self, op: F) -> impl Future<Output = Result<T, E>>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
        E: From<Error> + 'static,
    {
        self.run_typed_with(&TransientErrors, op)
    }

    /// [`run_typed`](RetryPolicy::run_typed) with a classifier of your own.
    ///
    /// # Errors
    ///
    /// As [`run_typed`](RetryPolicy::run_typed).
    #[inline]
    pub fn run_typed_with<T, E, F, Fut, C>(
        &self,
        classifier: &C,
        mut op: F,
    ) -> impl Future<Output = Result<T, E>>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
        E: From<Error> + 'static,
        C: Classify<T, E> + ?Sized,
    {
        let attempts = move || outcome::judge(classifier, outcome::lift(op()));
        Map::new(
            Retrying::unstarted(self, attempts),
            |outcome: Outcome<T, E>| match outcome {
                Ok(result) => result,
                Err(err) => Err(E::from(err)),
            },
        )
    }

    /// One call through this policy as a loop you write yourself; see [`RetryLoop`].
    pub fn retry_loop(&self) -> RetryLoop<&Self> {
        RetryLoop::new(self)
    }
}
