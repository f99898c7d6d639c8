//! An attempt's outcome inside the stack, and how it leaves it.

use std::future::Future;

use crate::{Class, Classify, Error, Name};

/// Why an attempt failed: the function's own error, or a primitive's.
#[derive(Debug)]
pub enum Failure<E> {
    /// The body returned `Err(E)`.
    Op(E),
    /// A primitive failed the call (timeout, deadline, open breaker, full bulkhead, ...).
    Resilience(Error),
}

/// The function's result: a primitive's error becomes the user's `E`, with the operation
/// name added when no inner layer set one.
#[inline]
pub fn finish<T, E: FromError>(
    result: Result<T, Failure<E>>,
    operation: &'static str,
) -> Result<T, E> {
    match result {
        Ok(value) => Ok(value),
        Err(Failure::Op(err)) => Err(err),
        Err(Failure::Resilience(err)) => Err(E::from(err.or_operation(Name::from(operation)))),
    }
}

/// An attempt's result with its class, decided once by the innermost layer that sees the
/// whole attempt (the breaker, or the retry loop when there is no breaker).
#[derive(Debug)]
pub struct Judged<T, E> {
    /// The attempt's result.
    pub result: Result<T, Failure<E>>,
    /// What it means for retries and breakers.
    pub class: Class,
}

impl<T, E> Judged<T, E> {
    /// A primitive's error: its own (effective) class.
    pub(super) fn error(err: Error) -> Self {
        Self {
            class: err.effective_class(),
            result: Err(Failure::Resilience(err)),
        }
    }

    /// Classifies `result`: the function's outcomes by `classifier`, a primitive's error by
    /// its effective class.
    pub(super) fn classify<C: Classify<T, E> + ?Sized>(
        classifier: &C,
        result: Result<T, Failure<E>>,
    ) -> Self {
        match result {
            Err(Failure::Resilience(err)) => Self::error(err),
            Err(Failure::Op(err)) => {
                let result = Err(err);
                let class = classifier.classify(&result);
                Self {
                    result: result.map_err(Failure::Op),
                    class,
                }
            }
            Ok(value) => {
                let result: Result<T, E> = Ok(value);
                let class = classifier.classify(&result);
                Self {
                    result: result.map_err(Failure::Op),
                    class,
                }
            }
        }
    }

    /// The result, for the layers above that no longer need the class.
    #[inline]
    pub fn into_result(self) -> Result<T, Failure<E>> {
        self.result
    }
}

/// Runs one attempt and judges its outcome with `classifier` (retry without a breaker).
#[inline]
pub async fn judge<T, E, C, F>(classifier: &C, attempt: F) -> Judged<T, E>
where
    C: Classify<T, E> + ?Sized,
    F: Future<Output = Result<T, Failure<E>>>,
{
    Judged::classify(classifier, attempt.await)
}

/// `From<resilience_core::Error>`, with a message that says why it is needed.
#[diagnostic::on_unimplemented(
    message = "`{Self}` must implement `From<resilience_core::Error>` to carry the errors of `#[resilient]`'s primitives",
    label = "the error type of this `Result` must implement `From<resilience_core::Error>`",
    note = "a timeout, a passed deadline, an open breaker or a full bulkhead reach the caller as this type; add `impl From<resilience_core::Error> for {Self}`"
)]
pub trait FromError: From<Error> {}

impl<E: From<Error>> FromError for E {}
