//! An attempt's outcome inside the stack, and how it leaves it.

use crate::{Error, Name};

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
pub fn finish<T, E: From<Error>>(
    result: Result<T, Failure<E>>,
    operation: &'static str,
) -> Result<T, E> {
    match result {
        Ok(value) => Ok(value),
        Err(Failure::Op(err)) => Err(err),
        Err(Failure::Resilience(err)) => Err(E::from(err.or_operation(Name::from(operation)))),
    }
}
