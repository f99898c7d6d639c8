//! Deciding what an outcome means: [`Class`] and the [`Classify`] trait.
//!
//! ```
//! use std::time::Duration;
//! use resilience_core::classify::{self, Class, Classify, TransientErrors};
//!
//! // The default: every `Ok` is a success, every `Err` is transient (worth retrying).
//! let outcome: Result<u32, std::io::Error> = Err(std::io::ErrorKind::ConnectionReset.into());
//! assert!(TransientErrors.classify(&outcome).is_transient());
//!
//! // Anything else is a closure away: here "not found" is the caller's problem.
//! let lookup = classify::from_fn(|result: &Result<Option<u32>, std::io::Error>| match result {
//!     Ok(Some(_)) => Class::Success,
//!     Ok(None) => Class::Benign,
//!     Err(_) => Class::Transient { retry_after: Some(Duration::from_millis(100)) },
//! });
//! assert_eq!(lookup.classify(&Ok(None)), Class::Benign);
//! ```
//!
//! # Why classes, not just `Ok`/`Err`
//!
//! Retries and circuit breakers ask different questions of the same outcome. A `503` with
//! `Retry-After: 2` is worth retrying in two seconds and is the dependency's fault; a `404`
//! is neither worth retrying nor the dependency's fault, and must not trip a breaker; a
//! `400` caused by our own bug is not worth retrying but is a real failure. [`Class`] names
//! those cases once, and every primitive reads the same answer. The class is decided by
//! the innermost layer that sees the raw result and travels upward inside
//! [`Error`], so outer layers do not judge again.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::Error;
use crate::error::find;

/// What an outcome means for retries and circuit breakers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Class {
    /// It worked.
    Success,
    /// A failure that may go away: worth retrying, counts against a breaker.
    Transient {
        /// How long the other side asked us to wait (`Retry-After`), if it did.
        retry_after: Option<Duration>,
    },
    /// A failure that will not go away by retrying, but is still the dependency's failure:
    /// not retried, counts against a breaker.
    Permanent,
    /// Not the dependency's fault (a `404`, a validation error): not retried, not counted
    /// against a breaker.
    Benign,
}

impl Class {
    /// A [`Class::Transient`] without a hint.
    pub const TRANSIENT: Class = Class::Transient { retry_after: None };

    /// `true` for [`Class::Success`].
    pub const fn is_success(self) -> bool {
        matches!(self, Class::Success)
    }

    /// `true` for [`Class::Transient`]: the outcome is worth retrying.
    pub const fn is_transient(self) -> bool {
        matches!(self, Class::Transient { .. })
    }

    /// `true` for [`Class::Transient`] and [`Class::Permanent`]: the outcome counts as a
    /// failure of the dependency (for a circuit breaker's failure rate).
    pub const fn is_failure(self) -> bool {
        matches!(self, Class::Transient { .. } | Class::Permanent)
    }

    /// The `Retry-After` hint of a transient failure.
    pub const fn retry_after(self) -> Option<Duration> {
        match self {
            Class::Transient { retry_after } => retry_after,
            _ => None,
        }
    }

    /// A stable `snake_case` identifier: `success`, `transient`, `permanent`, `benign`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Class::Success => "success",
            Class::Transient { .. } => "transient",
            Class::Permanent => "permanent",
            Class::Benign => "benign",
        }
    }
}

impl fmt::Display for Class {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Judges an outcome: `&Result<Res, E>` → [`Class`].
///
/// Classifiers see the whole result, so a service that answers `Ok(503)` is judged as
/// well as one that fails with `Err`. The trait is object safe:
/// `Box<dyn Classify<Res, E> + Send + Sync>` works.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot classify a `Result<{Res}, {E}>`",
    label = "no `Classify<{Res}, {E}>` for this classifier",
    note = "an HTTP classifier (such as `HttpStatus`, the default of `resilience-tower`'s breaker and HTTP retry layers) judges `http::Response`s only; for any other response type choose `TransientErrors` (every `Err` fails) or a classifier of your own, e.g. `CircuitBreakerLayer::new(breaker).classifier(TransientErrors)`"
)]
pub trait Classify<Res, E> {
    /// The class of `result`.
    fn classify(&self, result: &Result<Res, E>) -> Class;
}

impl<Res, E, C: Classify<Res, E> + ?Sized> Classify<Res, E> for &C {
    fn classify(&self, result: &Result<Res, E>) -> Class {
        (**self).classify(result)
    }
}

impl<Res, E, C: Classify<Res, E> + ?Sized> Classify<Res, E> for Box<C> {
    fn classify(&self, result: &Result<Res, E>) -> Class {
        (**self).classify(result)
    }
}

impl<Res, E, C: Classify<Res, E> + ?Sized> Classify<Res, E> for Arc<C> {
    fn classify(&self, result: &Result<Res, E>) -> Class {
        (**self).classify(result)
    }
}

/// The default classifier: every `Ok` is [`Class::Success`], every foreign `Err` is
/// [`Class::Transient`].
///
/// An `Err` that is (or boxes) a [`resilience_core::Error`](crate::Error) has its
/// [`effective_class`](crate::Error::effective_class): the class an inner layer decided,
/// or else its kind's [default](crate::ErrorKind::default_class), so that an
/// `InvalidRequest` is never retried and a `Timeout` is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TransientErrors;

impl<Res, E: 'static> Classify<Res, E> for TransientErrors {
    fn classify(&self, result: &Result<Res, E>) -> Class {
        match result {
            Ok(_) => Class::Success,
            Err(err) => error_class(err),
        }
    }
}

/// The class of an error: the [`effective_class`](crate::Error::effective_class) of a
/// [`resilience_core::Error`](crate::Error) (also inside a [`BoxError`](crate::BoxError)), else plain
/// `Transient`.
pub fn error_class<E: 'static>(err: &E) -> Class {
    find(err).map_or(Class::TRANSIENT, Error::effective_class)
}

/// A classifier made from a closure; see [`from_fn`].
#[derive(Clone, Copy)]
pub struct FnClassifier<F> {
    f: F,
}

/// A classifier from a closure `Fn(&Result<Res, E>) -> Class`.
pub fn from_fn<F>(f: F) -> FnClassifier<F> {
    FnClassifier { f }
}

impl<F, Res, E> Classify<Res, E> for FnClassifier<F>
where
    F: Fn(&Result<Res, E>) -> Class,
{
    fn classify(&self, result: &Result<Res, E>) -> Class {
        (self.f)(result)
    }
}

impl<F> fmt::Debug for FnClassifier<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FnClassifier")
            .field("f", &std::any::type_name::<F>())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{BoxError, ErrorKind};

    #[test]
    fn classify_is_object_safe() {
        let boxed: Box<dyn Classify<u8, Error> + Send + Sync> = Box::new(TransientErrors);
        assert_eq!(boxed.classify(&Ok(1)), Class::Success);
    }

    #[test]
    fn carried_class_wins_over_the_default() {
        let err = Error::new(ErrorKind::Inner).with_class(Class::Benign);
        assert_eq!(TransientErrors.classify(&Err::<(), _>(err)), Class::Benign);
    }

    #[test]
    fn boxed_error_hint_becomes_transient_hint() {
        let hint = Duration::from_secs(3);
        let err: BoxError = Error::new(ErrorKind::CircuitOpen)
            .with_retry_after(hint)
            .into();
        assert_eq!(
            TransientErrors.classify(&Err::<(), _>(err)),
            Class::Transient {
                retry_after: Some(hint)
            }
        );
    }

    #[test]
    fn unclassified_errors_get_their_kind_default() {
        let class = |kind| TransientErrors.classify(&Err::<(), _>(Error::new(kind)));
        assert_eq!(class(ErrorKind::InvalidRequest), Class::Benign);
        assert_eq!(class(ErrorKind::IdempotencyMismatch), Class::Benign);
        assert_eq!(class(ErrorKind::PayloadTooLarge), Class::Benign);
        assert_eq!(class(ErrorKind::DeadlineExceeded), Class::Permanent);
        assert_eq!(class(ErrorKind::RetryBudgetExhausted), Class::Permanent);
        assert_eq!(class(ErrorKind::Timeout), Class::TRANSIENT);
        assert_eq!(class(ErrorKind::Inner), Class::TRANSIENT);
        assert_eq!(class(ErrorKind::BulkheadFull), Class::TRANSIENT);
    }

    #[test]
    fn foreign_errors_are_transient() {
        let result: Result<(), std::fmt::Error> = Err(std::fmt::Error);
        assert_eq!(TransientErrors.classify(&result), Class::TRANSIENT);
    }

    #[test]
    fn failure_and_success_predicates_match_the_documented_table() {
        let cases = [
            (Class::Success, true, false, false),
            (Class::TRANSIENT, false, true, true),
            (Class::Permanent, false, false, true),
            (Class::Benign, false, false, false),
        ];
        for (class, success, transient, failure) in cases {
            assert_eq!(class.is_success(), success, "{class}");
            assert_eq!(class.is_transient(), transient, "{class}");
            assert_eq!(class.is_failure(), failure, "{class}");
        }
    }
}
