//! An attempt's outcome inside the stack, and how it leaves it.
//!
//! Inside the stack an outcome is a [`Outcome<T, E>`]: `Ok(result)` is what the body
//! returned (its own `Ok` or `Err`), `Err(error)` an error a primitive made (a timeout, a
//! passed deadline, an open breaker, a full bulkhead). Keeping the two apart lets the
//! classifier see the body's `&Result<T, E>` as it is, lets a breaker tell a rejection by
//! an inner primitive from a failure of the dependency, and builds the user's `E` (through
//! `E: From<Error>`) once, at the very end.

use crate::{Class, Classify, Error, Name};

/// The body's result, or a primitive's error.
pub type Outcome<T, E> = Result<Result<T, E>, Error>;

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

/// An attempt's outcome with its class, decided once by the innermost layer that sees the
/// whole attempt (the breaker, or the retry loop when there is no breaker).
#[derive(Debug)]
pub struct Judged<T, E> {
    /// The attempt's outcome.
    pub outcome: Outcome<T, E>,
    /// What it means for retries and breakers.
    pub class: Class,
}

impl<T, E> Judged<T, E> {
    /// A primitive's error, with its own (effective) class.
    pub(super) fn error(err: Error) -> Self {
        Self {
            class: err.effective_class(),
            outcome: Err(err),
        }
    }

    /// Classifies `outcome`: the body's result by `classifier`, a primitive's error by its
    /// effective class.
    #[inline]
    pub fn classify<C: Classify<T, E> + ?Sized>(classifier: &C, outcome: Outcome<T, E>) -> Self {
        let class = match &outcome {
            Ok(result) => classifier.classify(result),
            Err(err) => err.effective_class(),
        };
        Self { outcome, class }
    }

    /// The outcome, for the layers above that no longer need the class.
    #[inline]
    pub fn into_outcome(self) -> Outcome<T, E> {
        self.outcome
    }
}
