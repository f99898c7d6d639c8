//! [`Quota`], the validated limit every rate limiter enforces, and [`RateLimiterBuilder`].

use std::time::Duration;

use super::RateLimiter;
use super::gcra::Gcra;
use crate::config::ConfigError;
use crate::durations::nanos;
use crate::{Name, Primitive};

/// The highest rate a limiter accepts: one unit per nanosecond, the clock's resolution.
pub const MAX_RATE: f64 = 1e9;

/// The longest a limit may take to refill from empty (`burst / rate`), and the longest
/// `max_wait`: a year. Longer is a configuration mistake (a rate typed in the wrong unit),
/// not a limit anyone means.
pub const MAX_REFILL: Duration = Duration::from_secs(366 * 24 * 60 * 60);

const NANOS_PER_SEC: f64 = 1e9;

/// A validated limit: `burst` units at once, then `rate` units per second.
///
/// Every rate limiter of this module enforces one (and [`RateLimiterSnapshot`] reports
/// it); HTTP layers advertise it as `RateLimit-Policy: "name";q=<burst>;w=<window>`, the
/// window being the [`refill`](Quota::refill) time in whole seconds.
///
/// [`RateLimiterSnapshot`]: super::RateLimiterSnapshot
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quota {
    pub(crate) gcra: Gcra,
    burst: u32,
}

impl Quota {
    /// Units admitted per second, on average.
    #[must_use]
    pub fn rate(&self) -> f64 {
        NANOS_PER_SEC / self.gcra.interval as f64
    }

    /// Units an idle key may take at once.
    #[must_use]
    pub fn burst(&self) -> u32 {
        self.burst
    }

    /// Time between two units at the sustained rate (`1 / rate`, whole nanoseconds).
    #[must_use]
    pub fn interval(&self) -> Duration {
        Duration::from_nanos(self.gcra.interval)
    }

    /// How long an exhausted key takes to get its whole burst back (`burst / rate`).
    #[must_use]
    pub fn refill(&self) -> Duration {
        Duration::from_nanos(self.gcra.tolerance)
    }

    /// The refill time in whole seconds, rounded up (at least 1): the `w` of a
    /// `RateLimit-Policy` header.
    #[must_use]
    pub fn window_secs(&self) -> u64 {
        self.gcra.tolerance.div_ceil(1_000_000_000).max(1)
    }

    /// The most units a key can be admitted over `window`: `burst + window × rate`
    /// (rounded down). No limiter admits more, over any window.
    #[must_use]
    pub fn max_admitted(&self, window: Duration) -> u64 {
        let window = nanos(window);
        u64::from(self.burst).saturating_add(window / self.gcra.interval)
    }
}

/// How the rate was given.
#[derive(Clone, Copy, Debug)]
enum Rate {
    PerSecond(f64),
    PerWindow(u32, Duration),
}

/// The options every rate limiter builder shares, behind the setters of
/// [`common_setters!`].
#[derive(Clone, Debug)]
pub(crate) struct Spec {
    pub(crate) name: Name,
    rate: Option<Rate>,
    burst: Option<u32>,
    pub(crate) max_wait: Duration,
}

impl Default for Spec {
    fn default() -> Self {
        Self {
            name: Name::from_static("default"),
            rate: None,
            burst: None,
            max_wait: Duration::ZERO,
        }
    }
}

impl Spec {
    pub(crate) fn rate(&mut self, per_second: f64) {
        self.rate = Some(Rate::PerSecond(per_second));
    }

    pub(crate) fn limit(&mut self, units: u32, window: Duration) {
        self.rate = Some(Rate::PerWindow(units, window));
    }

    pub(crate) fn burst(&mut self, burst: u32) {
        self.burst = Some(burst);
    }

    /// Checks the options together; see the table on [`RateLimiterBuilder`].
    pub(crate) fn quota(&self) -> Result<Quota, ConfigError> {
        let p = Primitive::RateLimit;
        let (per_second, implied_burst) = match self.rate {
            None => {
                return Err(ConfigError::new(
                    p,
                    "rate",
                    "must be set: call `rate(per_second)` or `limit(units, window)`",
                ));
            }
            Some(Rate::PerSecond(rate)) => {
                if !(rate.is_finite() && rate > 0.0) {
                    return Err(ConfigError::new(
                        p,
                        "rate",
                        format!("must be a finite number above 0, got {rate}"),
                    ));
                }
                // One second's worth, as governor's `Quota::per_second`.
                (rate, rate.ceil().min(f64::from(u32::MAX)) as u32)
            }
            Some(Rate::PerWindow(units, window)) => {
                if units == 0 {
                    return Err(ConfigError::new(p, "limit", "must be at least 1, got 0"));
                }
                if window.is_zero() {
                    return Err(ConfigError::new(
                        p,
                        "limit",
                        "needs a window longer than zero",
                    ));
                }
                (f64::from(units) / window.as_secs_f64(), units)
            }
        };
        if per_second > MAX_RATE {
            return Err(ConfigError::new(
                p,
                "rate",
                format!(
                    "must be at most {MAX_RATE} per second (one per nanosecond), got {per_second}"
                ),
            ));
        }
        let interval = (NANOS_PER_SEC / per_second).round().max(1.0);
        if interval > MAX_REFILL.as_nanos() as f64 {
            return Err(ConfigError::new(
                p,
                "rate",
                format!("({per_second} per second) is less than one unit per year"),
            ));
        }
        let interval = interval as u64;
        let burst = self.burst.unwrap_or(implied_burst.max(1));
        if burst == 0 {
            return Err(ConfigError::new(p, "burst", "must be at least 1, got 0"));
        }
        let tolerance = u64::from(burst)
            .checked_mul(interval)
            .filter(|&t| u128::from(t) <= MAX_REFILL.as_nanos());
        let Some(tolerance) = tolerance else {
            return Err(ConfigError::new(
                p,
                "burst",
                format!("({burst}) at {per_second} per second takes more than a year to refill"),
            ));
        };
        Ok(Quota {
            gcra: Gcra {
                interval,
                tolerance,
            },
            burst,
        })
    }

    pub(crate) fn checked_max_wait(&self) -> Result<Duration, ConfigError> {
        if self.max_wait <= MAX_REFILL {
            Ok(self.max_wait)
        } else {
            Err(ConfigError::new(
                Primitive::RateLimit,
                "max_wait",
                format!("({:?}) must be at most a year", self.max_wait),
            ))
        }
    }
}

/// The setters every rate limiter builder has, in one place: `name`, `rate`, `limit`,
/// `burst` and `max_wait`, writing to a `spec: Spec` field.
macro_rules! common_setters {
    () => {
        /// The instance name: the `name` label of the limiter's metrics, the instance in its
        /// errors (`rate_limit=api`) and the policy name in HTTP `RateLimit` headers. Keep
        /// it from configuration, never from request data.
        pub fn name(mut self, name: impl Into<$crate::Name>) -> Self {
            self.spec.name = name.into();
            self
        }

        /// The sustained rate, in units per second (a finite number above 0, at most
        /// [`MAX_RATE`](crate::rate_limit::MAX_RATE)). The burst defaults to one second's
        /// worth, rounded up.
        pub fn rate(mut self, per_second: f64) -> Self {
            self.spec.rate(per_second);
            self
        }

        /// `units` per `window`, the way quotas are usually written (`100` per minute):
        /// the rate is `units / window` and the burst defaults to `units`, so an idle key
        /// may spend its whole window's quota at once.
        pub fn limit(mut self, units: u32, window: ::std::time::Duration) -> Self {
            self.spec.limit(units, window);
            self
        }

        /// How many units an idle key may take at once (at least 1).
        pub fn burst(mut self, burst: u32) -> Self {
            self.spec.burst(burst);
            self
        }

        /// How long `acquire` may wait for its turn (default zero: refuse at once). A
        /// client calling a rate-limited provider sets it, to wait for its quota instead of
        /// failing; the ambient [deadline](crate::deadline) shortens it further.
        pub fn max_wait(mut self, max_wait: ::std::time::Duration) -> Self {
            self.spec.max_wait = max_wait;
            self
        }
    };
}
pub(crate) use common_setters;

/// Builds a [`RateLimiter`]; see [`RateLimiter::builder`].
///
/// | option | default | |
/// |---|---|---|
/// | [`name`](Self::name) | `"default"` | |
/// | [`rate`](Self::rate) or [`limit`](Self::limit) | none: one is required | no rate fits every dependency |
/// | [`burst`](Self::burst) | one second's worth (`rate`), or the window's units (`limit`) | governor's `Quota::per_second` / `per_minute` |
/// | [`max_wait`](Self::max_wait) | 0: refuse at once | a server sheds; a client opts in to waiting |
///
/// [`build`](Self::build) refuses, with a [`ConfigError`] naming the option: no rate; a
/// rate that is NaN, infinite, zero or negative, above [`MAX_RATE`] or below one unit per
/// year; a `limit` of zero units or over a zero window; a burst of zero, or one that takes
/// longer than [`MAX_REFILL`] to refill; a `max_wait` longer than [`MAX_REFILL`].
#[derive(Clone, Debug, Default)]
#[must_use = "a builder does nothing until `build` is called"]
pub struct RateLimiterBuilder {
    pub(super) spec: Spec,
}

impl RateLimiterBuilder {
    common_setters!();

    /// Validates the options and builds the limiter, resolving its metric handles against
    /// the `metrics` recorder installed now.
    pub fn build(self) -> Result<RateLimiter, ConfigError> {
        let quota = self.spec.quota()?;
        let max_wait = self.spec.checked_max_wait()?;
        Ok(RateLimiter::from_parts(self.spec.name, quota, max_wait))
    }
}
