//! Configuration errors shared by every primitive's builder.
//!
//! Builders validate when they build and return [`ConfigError`] instead of panicking, so a
//! configuration read from a file or the environment fails with a message that names the
//! primitive, the option and what is wrong with it.
//!
//! ```
//! use resilience_core::Primitive;
//! use resilience_core::config::ConfigError;
//!
//! let err = ConfigError::new(Primitive::Retry, "max_attempts", "must be at least 1, got 0");
//! assert_eq!(err.option(), "max_attempts");
//! assert_eq!(
//!     err.to_string(),
//!     "invalid retry config: `max_attempts` must be at least 1, got 0"
//! );
//! ```

use std::borrow::Cow;
use std::fmt;
use std::time::Duration;

use crate::Primitive;

/// A builder option that failed validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    primitive: Primitive,
    option: &'static str,
    problem: Cow<'static, str>,
}

impl ConfigError {
    /// An error for `option` of `primitive`; `problem` completes the sentence
    /// "`option` ...", e.g. "must be at least 1, got 0".
    pub fn new(
        primitive: Primitive,
        option: &'static str,
        problem: impl Into<Cow<'static, str>>,
    ) -> Self {
        Self {
            primitive,
            option,
            problem: problem.into(),
        }
    }

    /// `option` is zero where a duration longer than zero is needed.
    pub fn zero_duration(primitive: Primitive, option: &'static str) -> Self {
        Self::new(primitive, option, "must be longer than zero")
    }

    /// `option` is zero where a count of at least one is needed.
    pub fn zero_count(primitive: Primitive, option: &'static str) -> Self {
        Self::new(primitive, option, "must be at least 1, got 0")
    }

    /// `low_option` (`low`) is above `high_option` (`high`), a bound it must not exceed.
    pub fn exceeds<T: fmt::Debug>(
        primitive: Primitive,
        low_option: &'static str,
        low: T,
        high_option: &'static str,
        high: T,
    ) -> Self {
        Self::new(
            primitive,
            low_option,
            format!("({low:?}) must not exceed `{high_option}` ({high:?})"),
        )
    }

    /// `option` (`value`) is not a ratio in `(0, 1]`.
    pub fn not_a_ratio(primitive: Primitive, option: &'static str, value: f64) -> Self {
        Self::new(primitive, option, format!("must be in (0, 1], got {value}"))
    }

    /// `option` (`value`) is not a finite number of at least `min`.
    pub fn below(primitive: Primitive, option: &'static str, value: f64, min: f64) -> Self {
        Self::new(
            primitive,
            option,
            format!("must be a finite number >= {min}, got {value}"),
        )
    }

    /// The primitive whose configuration is invalid.
    #[must_use]
    pub fn primitive(&self) -> Primitive {
        self.primitive
    }

    /// The builder option at fault, as named by the builder method.
    #[must_use]
    pub fn option(&self) -> &'static str {
        self.option
    }

    /// What is wrong with the value.
    #[must_use]
    pub fn problem(&self) -> &str {
        &self.problem
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid {} config: `{}` {}",
            self.primitive.as_str(),
            self.option,
            self.problem
        )
    }
}

impl std::error::Error for ConfigError {}

/// Checks shared by the builders, built on [`ConfigError`]'s constructors. Each returns
/// the value when it is valid.
pub(crate) mod check {
    use std::fmt;

    use super::{ConfigError, Duration, Primitive};

    /// A finite ratio in `(0, 1]`, such as a failure-rate threshold.
    pub(crate) fn ratio(p: Primitive, option: &'static str, v: f64) -> Result<f64, ConfigError> {
        if v.is_finite() && v > 0.0 && v <= 1.0 {
            Ok(v)
        } else {
            Err(ConfigError::not_a_ratio(p, option, v))
        }
    }

    /// A finite number `>= min`, such as a backoff multiplier.
    pub(crate) fn at_least_f64(
        p: Primitive,
        option: &'static str,
        v: f64,
        min: f64,
    ) -> Result<f64, ConfigError> {
        if v.is_finite() && v >= min {
            Ok(v)
        } else {
            Err(ConfigError::below(p, option, v, min))
        }
    }

    /// A count `>= 1`.
    pub(crate) fn nonzero<T: Copy + Default + PartialEq>(
        p: Primitive,
        option: &'static str,
        v: T,
    ) -> Result<T, ConfigError> {
        if v == T::default() {
            Err(ConfigError::zero_count(p, option))
        } else {
            Ok(v)
        }
    }

    /// A duration longer than zero.
    pub(crate) fn nonzero_duration(
        p: Primitive,
        option: &'static str,
        v: Duration,
    ) -> Result<Duration, ConfigError> {
        if v.is_zero() {
            Err(ConfigError::zero_duration(p, option))
        } else {
            Ok(v)
        }
    }

    /// `low <= high`, for pairs such as a base delay and its cap.
    pub(crate) fn ordered<T: PartialOrd + fmt::Debug>(
        p: Primitive,
        low_option: &'static str,
        low: T,
        high_option: &'static str,
        high: T,
    ) -> Result<(), ConfigError> {
        if low <= high {
            Ok(())
        } else {
            Err(ConfigError::exceeds(p, low_option, low, high_option, high))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_reject_nan_zero_out_of_range_and_inverted_bounds() {
        let p = Primitive::CircuitBreaker;
        assert!(check::ratio(p, "r", f64::NAN).is_err());
        assert!(check::ratio(p, "r", 0.0).is_err());
        assert!(check::ratio(p, "r", 1.5).is_err());
        assert_eq!(check::ratio(p, "r", 1.0), Ok(1.0));
        assert!(check::at_least_f64(p, "m", f64::INFINITY, 1.0).is_err());
        assert!(check::at_least_f64(p, "m", 0.5, 1.0).is_err());
        assert_eq!(check::at_least_f64(p, "m", 2.0, 1.0), Ok(2.0));
        assert!(check::nonzero(p, "n", 0_u32).is_err());
        assert_eq!(check::nonzero(p, "n", 3_usize), Ok(3));
        assert!(check::nonzero_duration(p, "d", Duration::ZERO).is_err());
        let err = check::ordered(p, "base", 2, "max", 1).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid circuit_breaker config: `base` (2) must not exceed `max` (1)"
        );
        assert!(check::ordered(p, "base", 1, "max", 1).is_ok());
    }
}
