//! One settings struct per kind of primitive: every key optional, so that an instance's
//! settings fall back to its kind's `defaults` and then to the builder's defaults.

use std::time::Duration;

use super::value::Value;
use crate::bulkhead::{Bulkhead, BulkheadBuilder};
use crate::circuit_breaker::{CircuitBreaker, CircuitBreakerBuilder};
use crate::rate_limit::{RateLimiter, RateLimiterBuilder};
use crate::retry::{RetryBudget, RetryBudgetBuilder};
use crate::throttle::{AdaptiveThrottle, AdaptiveThrottleBuilder};

/// What a settings struct needs to take part in a document.
pub(crate) trait Keys: Default + Clone {
    /// Every key, in order.
    const KEYS: &'static [&'static str];
    /// `self`'s keys, each falling back to `defaults`'s.
    fn or(&self, defaults: &Self) -> Self;
    /// Sets `key` from an environment variable's text.
    fn set(&mut self, key: &str, text: &str) -> Result<(), String>;
}

macro_rules! settings {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $( $(#[$fmeta:meta])* $field:ident: $ty:ty, )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        #[non_exhaustive]
        pub struct $name {
            $(
                $(#[$fmeta])*
                #[serde(default, skip_serializing_if = "Option::is_none", with = "super::value")]
                pub $field: Option<$ty>,
            )*
        }

        impl Keys for $name {
            const KEYS: &'static [&'static str] = &[$(stringify!($field)),*];

            fn or(&self, defaults: &Self) -> Self {
                Self { $( $field: self.$field.clone().or_else(|| defaults.$field.clone()), )* }
            }

            fn set(&mut self, key: &str, text: &str) -> Result<(), String> {
                match key {
                    $( stringify!($field) => self.$field = Some(<$ty as Value>::parse(text)?), )*
                    _ => return Err(format!(
                        "unknown key `{key}`, expected one of: {}",
                        Self::KEYS.join(", ")
                    )),
                }
                Ok(())
            }
        }
    };
}

settings! {
    /// A [`CircuitBreaker`]'s settings (`[circuit_breaker.<name>]`); each key is the
    /// [`CircuitBreakerBuilder`] option of the same name.
    ///
    /// The window is `count_window` (calls) or `time_window` (a duration, with
    /// `time_window_buckets`), not both. `slow_call_duration` and
    /// `slow_call_rate_threshold` go together, and so do `open_duration_growth` and
    /// `open_duration_max`.
    pub struct CircuitBreakerSettings {
        /// Rates over the last this many calls.
        count_window: u32,
        /// Rates over the calls of the last this long.
        time_window: Duration,
        /// How many slices a `time_window` is kept in (default 10).
        time_window_buckets: u32,
        /// The fewest calls in the window before a rate can trip.
        minimum_calls: u32,
        /// Trip when at least this share of the window's calls failed, in (0, 1].
        failure_rate_threshold: f64,
        /// A call at least this long is slow.
        slow_call_duration: Duration,
        /// Trip when at least this share of the window's calls were slow, in (0, 1].
        slow_call_rate_threshold: f64,
        /// Also trip after this many failures in a row.
        consecutive_failures: u32,
        /// How long the breaker stays open.
        open_duration: Duration,
        /// Each re-opening lasts this many times longer (at least 1)...
        open_duration_growth: f64,
        /// ...up to this long.
        open_duration_max: Duration,
        /// How many probes half-open admits.
        half_open_calls: u32,
        /// The longest the breaker waits half-open for probes.
        max_half_open_duration: Duration,
        /// The longest a half-open probe may take.
        probe_timeout: Duration,
    }
}

settings! {
    /// A [`Bulkhead`]'s settings (`[bulkhead.<name>]`); each key is the
    /// [`BulkheadBuilder`] option of the same name.
    pub struct BulkheadSettings {
        /// How many calls may hold a permit at once.
        max_concurrent: usize,
        /// How many callers may wait for a permit.
        max_waiting: usize,
        /// How long a caller waits in the queue.
        max_wait: Duration,
        /// The `retry_after` hint of a `BulkheadFull` error.
        retry_after: Duration,
    }
}

settings! {
    /// A [`RateLimiter`]'s settings (`[rate_limiter.<name>]`); each key is the
    /// [`RateLimiterBuilder`] option of the same name.
    pub struct RateLimiterSettings {
        /// Units per second, on average.
        rate: f64,
        /// Units an idle limiter may grant at once.
        burst: u32,
        /// How long a caller may wait its turn.
        max_wait: Duration,
    }
}

settings! {
    /// A [`RetryBudget`]'s settings (`[retry_budget.<name>]`); each key is the
    /// [`RetryBudgetBuilder`] option of the same name.
    pub struct RetryBudgetSettings {
        /// How long deposits and withdrawals count (1s to 60s).
        ttl: Duration,
        /// Retries per second allowed whatever the traffic.
        min_per_sec: u32,
        /// Retries allowed per call, as a share (0 to 10).
        ratio: f64,
    }
}

settings! {
    /// An [`AdaptiveThrottle`]'s settings (`[throttle.<name>]`); each key is the
    /// [`AdaptiveThrottleBuilder`] option of the same name.
    pub struct ThrottleSettings {
        /// K: how many requests per accepted one are sent before refusing locally (at
        /// least 1).
        multiplier: f64,
        /// How far back requests and accepts are counted (1ms to 1 day).
        window: Duration,
    }
}

pub(super) use settings;

/// Passes each of `keys` that `settings` sets to the builder method of the same name.
macro_rules! pass_keys {
    ($settings:expr, $builder:ident, $($key:ident),+) => {
        $(
            if let Some(v) = $settings.$key {
                $builder = $builder.$key(v);
            }
        )+
    };
}

pub(super) use pass_keys;

/// A key and what is wrong with it.
pub(crate) type KeyError = (&'static str, String);

impl CircuitBreakerSettings {
    /// The builder these settings describe (before the builder's own validation).
    pub(crate) fn builder(&self) -> Result<CircuitBreakerBuilder, KeyError> {
        let mut b = CircuitBreaker::builder();
        match (self.count_window, self.time_window) {
            (Some(_), Some(_)) => {
                return Err((
                    "time_window",
                    "cannot be set beside `count_window`: choose one window".into(),
                ));
            }
            (Some(n), None) => b = b.count_window(n),
            (None, Some(d)) => b = b.time_window_buckets(d, self.time_window_buckets.unwrap_or(10)),
            (None, None) if self.time_window_buckets.is_some() => {
                return Err(("time_window_buckets", "needs a `time_window`".into()));
            }
            (None, None) => {}
        }
        pass_keys!(self, b, minimum_calls, failure_rate_threshold);
        match (self.slow_call_duration, self.slow_call_rate_threshold) {
            (Some(d), Some(r)) => b = b.slow_calls(d, r),
            (None, None) => {}
            (Some(_), None) => {
                return Err((
                    "slow_call_rate_threshold",
                    "must be set with `slow_call_duration`".into(),
                ));
            }
            (None, Some(_)) => {
                return Err((
                    "slow_call_duration",
                    "must be set with `slow_call_rate_threshold`".into(),
                ));
            }
        }
        pass_keys!(self, b, consecutive_failures, open_duration);
        match (self.open_duration_growth, self.open_duration_max) {
            (Some(m), Some(max)) => b = b.open_duration_growth(m, max),
            (None, None) => {}
            (Some(_), None) => {
                return Err((
                    "open_duration_max",
                    "must be set with `open_duration_growth`".into(),
                ));
            }
            (None, Some(_)) => {
                return Err((
                    "open_duration_growth",
                    "must be set with `open_duration_max`".into(),
                ));
            }
        }
        pass_keys!(
            self,
            b,
            half_open_calls,
            max_half_open_duration,
            probe_timeout
        );
        Ok(b)
    }
}

impl BulkheadSettings {
    /// The builder these settings describe.
    pub(crate) fn builder(&self) -> BulkheadBuilder {
        let mut b = Bulkhead::builder();
        pass_keys!(self, b, max_concurrent, max_waiting, max_wait, retry_after);
        b
    }
}

impl RateLimiterSettings {
    /// The builder these settings describe.
    pub(crate) fn builder(&self) -> RateLimiterBuilder {
        let mut b = RateLimiter::builder();
        pass_keys!(self, b, rate, burst, max_wait);
        b
    }
}

impl RetryBudgetSettings {
    /// The builder these settings describe.
    pub(crate) fn builder(&self) -> RetryBudgetBuilder {
        let mut b = RetryBudget::builder();
        pass_keys!(self, b, ttl, min_per_sec, ratio);
        b
    }
}

impl ThrottleSettings {
    /// The builder these settings describe.
    pub(crate) fn builder(&self) -> AdaptiveThrottleBuilder {
        let mut b = AdaptiveThrottle::builder();
        pass_keys!(self, b, multiplier, window);
        b
    }
}
