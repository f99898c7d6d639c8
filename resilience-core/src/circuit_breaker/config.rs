//! [`CircuitBreakerBuilder`]: every option of a circuit breaker, its default and the anchor it follows.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use super::state::MAX_HALF_OPEN_CALLS;
use super::window::{MAX_COUNT_WINDOW, MAX_TIME_WINDOW_BUCKETS};
use super::{CircuitBreaker, StateChange};
use crate::config::{ConfigError, check};
use crate::durations::nanos;
use crate::{Name, Primitive};

const P: Primitive = Primitive::CircuitBreaker;

/// Which calls the failure and slow-call rates are computed over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SlidingWindow {
    /// The last `n` recorded calls. Needs no clock.
    Count(u32),
    /// The calls recorded in the last `duration`, kept in `buckets` equal slices (the
    /// window moves one slice at a time). Reads the clock when a call is recorded.
    Time {
        /// The length of the window.
        duration: Duration,
        /// How many slices the window is divided into.
        buckets: u32,
    },
}

pub(crate) type Hook = Arc<dyn Fn(&StateChange) + Send + Sync>;

/// Configures a [`CircuitBreaker`]; [`build`](CircuitBreakerBuilder::build) validates.
///
/// | option | default | anchor |
/// |---|---|---|
/// | [`name`](CircuitBreakerBuilder::name) | `"default"` | resilience4j's `default` instance |
/// | [`count_window`](CircuitBreakerBuilder::count_window) / [`time_window`](CircuitBreakerBuilder::time_window) | last 100 calls | resilience4j `slidingWindowSize = 100`, `COUNT_BASED` |
/// | [`minimum_calls`](CircuitBreakerBuilder::minimum_calls) | the window size (100 calls; 100 for a time window) | resilience4j `minimumNumberOfCalls = 100` |
/// | [`failure_rate_threshold`](CircuitBreakerBuilder::failure_rate_threshold) | 0.5 | resilience4j `failureRateThreshold = 50` |
/// | [`slow_calls`](CircuitBreakerBuilder::slow_calls) | off | resilience4j counts calls over 60 s as slow at a 100 % threshold; off here, so the closed path reads no clock |
/// | [`consecutive_failures`](CircuitBreakerBuilder::consecutive_failures) | off | Polly v7 / Hystrix-style "break after N failures in a row" when set |
/// | [`open_duration`](CircuitBreakerBuilder::open_duration) | 60 s | resilience4j `waitDurationInOpenState = 60s` |
/// | [`open_duration_growth`](CircuitBreakerBuilder::open_duration_growth) | none (constant) | resilience4j's exponential `IntervalFunction` when set |
/// | [`half_open_calls`](CircuitBreakerBuilder::half_open_calls) | 10 | resilience4j `permittedNumberOfCallsInHalfOpenState = 10` |
/// | [`max_half_open_duration`](CircuitBreakerBuilder::max_half_open_duration) | 60 s | resilience4j's `maxWaitDurationInHalfOpenState` (there 0 = forever; bounded here so a hung probe cannot wedge the breaker) |
/// | [`probe_timeout`](CircuitBreakerBuilder::probe_timeout) | none (a probe takes as long as its caller allows) | no peer equivalent; Envoy's active health checks time their probes out on their own the same way |
///
/// Rate-based trips wait for `minimum_calls` calls in the window; the consecutive-failures
/// mode trips on its own count (which is its own minimum).
#[derive(Clone)]
pub struct CircuitBreakerBuilder {
    pub(crate) name: Name,
    pub(crate) window: SlidingWindow,
    pub(crate) minimum_calls: Option<u32>,
    pub(crate) failure_rate: Option<f64>,
    pub(crate) slow_call_duration: Option<Duration>,
    pub(crate) slow_call_rate: Option<f64>,
    pub(crate) consecutive_failures: Option<u32>,
    pub(crate) open_duration: Duration,
    pub(crate) growth: Option<(f64, Duration)>,
    pub(crate) half_open_calls: u32,
    pub(crate) max_half_open_duration: Duration,
    pub(crate) probe_timeout: Option<Duration>,
    pub(crate) hook: Option<Hook>,
}

impl Default for CircuitBreakerBuilder {
    fn default() -> Self {
        Self {
            name: Name::from_static("default"),
            window: SlidingWindow::Count(100),
            minimum_calls: None,
            failure_rate: Some(0.5),
            slow_call_duration: None,
            slow_call_rate: None,
            consecutive_failures: None,
            open_duration: Duration::from_secs(60),
            growth: None,
            half_open_calls: 10,
            max_half_open_duration: Duration::from_secs(60),
            probe_timeout: None,
            hook: None,
        }
    }
}

impl CircuitBreakerBuilder {
    /// The instance name, used in metric labels and error context.
    #[must_use]
    pub fn name(mut self, name: impl Into<Name>) -> Self {
        self.name = name.into();
        self
    }

    /// Rates over the last `calls` recorded calls (1 ..= 1 048 575: one byte per call, so
    /// at most 1 MiB).
    #[must_use]
    pub fn count_window(mut self, calls: u32) -> Self {
        self.window = SlidingWindow::Count(calls);
        self
    }

    /// Rates over the calls recorded in the last `duration`, in 10 slices; see
    /// [`time_window_buckets`](CircuitBreakerBuilder::time_window_buckets).
    #[must_use]
    pub fn time_window(self, duration: Duration) -> Self {
        self.time_window_buckets(duration, 10)
    }

    /// Rates over the last `duration`, divided into `buckets` slices of at least 1 ms
    /// (1 ..= 32 768 buckets: at most the memory of the largest count window, 1 MiB).
    #[must_use]
    pub fn time_window_buckets(mut self, duration: Duration, buckets: u32) -> Self {
        self.window = SlidingWindow::Time { duration, buckets };
        self
    }

    /// The fewest calls in the window before a failure or slow-call rate can trip.
    #[must_use]
    pub fn minimum_calls(mut self, calls: u32) -> Self {
        self.minimum_calls = Some(calls);
        self
    }

    /// Trip when at least this fraction of the window's calls failed, in `(0, 1]`.
    #[must_use]
    pub fn failure_rate_threshold(mut self, rate: f64) -> Self {
        self.failure_rate = Some(rate);
        self
    }

    /// Never trip on the failure rate (keep the slow-call or consecutive-failures mode).
    #[must_use]
    pub fn without_failure_rate(mut self) -> Self {
        self.failure_rate = None;
        self
    }

    /// Count calls that take at least `duration` as slow, and trip when at least `rate`
    /// (in `(0, 1]`) of the window's calls were slow. A slow half-open probe counts as a
    /// failed probe.
    #[must_use]
    pub fn slow_calls(mut self, duration: Duration, rate: f64) -> Self {
        self.slow_call_duration = Some(duration);
        self.slow_call_rate = Some(rate);
        self
    }

    /// Also trip after `failures` failures in a row, whatever the window says.
    #[must_use]
    pub fn consecutive_failures(mut self, failures: u32) -> Self {
        self.consecutive_failures = Some(failures);
        self
    }

    /// How long the breaker stays open before it lets probes through.
    #[must_use]
    pub fn open_duration(mut self, duration: Duration) -> Self {
        self.open_duration = duration;
        self
    }

    /// Each trip that follows a failed half-open test stays open `multiplier` times
    /// longer than the last (≥ 1), up to `max`. Closing resets the growth.
    #[must_use]
    pub fn open_duration_growth(mut self, multiplier: f64, max: Duration) -> Self {
        self.growth = Some((multiplier, max));
        self
    }

    /// How many probes half-open admits (1 ..= 65 535); that many successes close the
    /// breaker, one failure re-opens it. It also bounds the probes in flight at any
    /// moment, across half-open episodes: a probe that outlives its episode keeps its slot
    /// until it ends.
    #[must_use]
    pub fn half_open_calls(mut self, calls: u32) -> Self {
        self.half_open_calls = calls;
        self
    }

    /// The longest the breaker stays half-open waiting for probes; past it, a call that
    /// finds no free probe slot re-opens the breaker.
    #[must_use]
    pub fn max_half_open_duration(mut self, duration: Duration) -> Self {
        self.max_half_open_duration = duration;
        self
    }

    /// Gives each half-open probe at most `limit` before it counts as a failed probe (an
    /// [`ErrorKind::Timeout`](crate::ErrorKind::Timeout) error from the breaker; the
    /// operation is dropped) and the breaker re-opens.
    ///
    /// Why: without it, a probe sent into a dependency that hangs holds the breaker
    /// half-open — refusing every other call — for as long as its caller waits, often a
    /// whole deadline. With a probe timeout near the dependency's normal latency, a hung
    /// probe fails fast, the breaker re-opens for `open_duration`, and the next probe goes
    /// out soon after: the breaker closes about `open_duration` after the dependency is
    /// back, not a deadline later. Calls admitted while closed are not bounded by it.
    ///
    /// Must be longer than zero and at most
    /// [`max_half_open_duration`](Self::max_half_open_duration).
    #[must_use]
    pub fn probe_timeout(mut self, limit: Duration) -> Self {
        self.probe_timeout = Some(limit);
        self
    }

    /// Calls `hook` after every state change, on the thread that made it. Keep it short;
    /// it may call back into the breaker.
    #[must_use]
    pub fn on_state_change(mut self, hook: impl Fn(&StateChange) + Send + Sync + 'static) -> Self {
        self.hook = Some(Arc::new(hook));
        self
    }

    /// Validates the options and builds the breaker.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming the first invalid option: a rate that is NaN, zero or
    /// above 1; a zero count or duration; a window too large (over 1 048 575 calls or 32 768
    /// buckets); `minimum_calls` above a count window's size; a growth cap below
    /// `open_duration`; a `probe_timeout` above `max_half_open_duration`; no trip condition
    /// at all.
    pub fn build(self) -> Result<CircuitBreaker, ConfigError> {
        let config = self.validate()?;
        Ok(CircuitBreaker::from_config(config))
    }

    pub(crate) fn validate(self) -> Result<Config, ConfigError> {
        let window = match self.window {
            SlidingWindow::Count(n) => {
                check::nonzero(P, "count_window", n)?;
                if n > MAX_COUNT_WINDOW {
                    return Err(ConfigError::new(
                        P,
                        "count_window",
                        format!("must be at most {MAX_COUNT_WINDOW}, got {n}"),
                    ));
                }
                SlidingWindow::Count(n)
            }
            SlidingWindow::Time { duration, buckets } => {
                check::nonzero_duration(P, "time_window", duration)?;
                check::nonzero(P, "time_window_buckets", buckets)?;
                if buckets > MAX_TIME_WINDOW_BUCKETS {
                    return Err(ConfigError::new(
                        P,
                        "time_window_buckets",
                        format!("must be at most {MAX_TIME_WINDOW_BUCKETS}, got {buckets}"),
                    ));
                }
                if duration / buckets < Duration::from_millis(1) {
                    return Err(ConfigError::new(
                        P,
                        "time_window_buckets",
                        format!(
                            "must leave slices of at least 1ms, got {buckets} over {duration:?}"
                        ),
                    ));
                }
                SlidingWindow::Time { duration, buckets }
            }
        };
        let minimum_calls = match self.minimum_calls {
            Some(n) => check::nonzero(P, "minimum_calls", n)?,
            None => match window {
                SlidingWindow::Count(n) => n,
                SlidingWindow::Time { .. } => 100,
            },
        };
        if let SlidingWindow::Count(n) = window {
            check::ordered(P, "minimum_calls", minimum_calls, "count_window", n)?;
        }
        let failure_rate = self
            .failure_rate
            .map(|r| check::ratio(P, "failure_rate_threshold", r))
            .transpose()?;
        let slow = match (self.slow_call_duration, self.slow_call_rate) {
            (Some(d), Some(r)) => Some((
                check::nonzero_duration(P, "slow_call_duration", d)?,
                check::ratio(P, "slow_call_rate_threshold", r)?,
            )),
            _ => None,
        };
        let consecutive_failures = self
            .consecutive_failures
            .map(|n| check::nonzero(P, "consecutive_failures", n))
            .transpose()?;
        if failure_rate.is_none() && slow.is_none() && consecutive_failures.is_none() {
            return Err(ConfigError::new(
                P,
                "failure_rate_threshold",
                "is disabled and no slow-call or consecutive-failures mode is set: the breaker could never trip",
            ));
        }
        let open_duration = check::nonzero_duration(P, "open_duration", self.open_duration)?;
        let growth = match self.growth {
            Some((multiplier, max)) => {
                check::at_least_f64(P, "open_duration_growth", multiplier, 1.0)?;
                check::ordered(
                    P,
                    "open_duration",
                    open_duration,
                    "open_duration_growth max",
                    max,
                )?;
                Some((multiplier, max))
            }
            None => None,
        };
        let half_open_calls = check::nonzero(P, "half_open_calls", self.half_open_calls)?;
        if half_open_calls > MAX_HALF_OPEN_CALLS {
            return Err(ConfigError::new(
                P,
                "half_open_calls",
                format!("must be at most {MAX_HALF_OPEN_CALLS}, got {half_open_calls}"),
            ));
        }
        let max_half_open_duration =
            check::nonzero_duration(P, "max_half_open_duration", self.max_half_open_duration)?;
        let probe_timeout = match self.probe_timeout {
            Some(limit) => {
                check::nonzero_duration(P, "probe_timeout", limit)?;
                check::ordered(
                    P,
                    "probe_timeout",
                    limit,
                    "max_half_open_duration",
                    max_half_open_duration,
                )?;
                Some(limit)
            }
            None => None,
        };
        Ok(Config {
            name: self.name,
            window,
            minimum_calls,
            failure_rate_ppm: failure_rate.map(to_ppm),
            slow: slow.map(|(d, r)| (nanos(d), to_ppm(r))),
            consecutive_failures,
            open_duration,
            growth,
            half_open_calls,
            max_half_open_nanos: nanos(max_half_open_duration),
            probe_timeout,
            hook: self.hook,
        })
    }
}

fn to_ppm(rate: f64) -> u64 {
    // A ratio validated into (0, 1]; at least 1 ppm so a tiny threshold still needs a failure.
    ((rate * 1_000_000.0).round() as u64).clamp(1, 1_000_000)
}

impl fmt::Debug for CircuitBreakerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CircuitBreakerBuilder")
            .field("name", &self.name)
            .field("window", &self.window)
            .field("minimum_calls", &self.minimum_calls)
            .field("failure_rate", &self.failure_rate)
            .field("slow_call_duration", &self.slow_call_duration)
            .field("slow_call_rate", &self.slow_call_rate)
            .field("consecutive_failures", &self.consecutive_failures)
            .field("open_duration", &self.open_duration)
            .field("growth", &self.growth)
            .field("half_open_calls", &self.half_open_calls)
            .field("max_half_open_duration", &self.max_half_open_duration)
            .field("probe_timeout", &self.probe_timeout)
            .field("on_state_change", &self.hook.is_some())
            .finish()
    }
}

/// A validated configuration, with rates in parts per million and durations in nanoseconds
/// so the hot path compares integers.
pub(crate) struct Config {
    pub(crate) name: Name,
    pub(crate) window: SlidingWindow,
    pub(crate) minimum_calls: u32,
    pub(crate) failure_rate_ppm: Option<u64>,
    /// Slow-call duration (ns) and rate threshold (ppm).
    pub(crate) slow: Option<(u64, u64)>,
    pub(crate) consecutive_failures: Option<u32>,
    pub(crate) open_duration: Duration,
    pub(crate) growth: Option<(f64, Duration)>,
    pub(crate) half_open_calls: u32,
    pub(crate) max_half_open_nanos: u64,
    /// How long a half-open probe may take, when bounded.
    pub(crate) probe_timeout: Option<Duration>,
    pub(crate) hook: Option<Hook>,
}

impl Config {
    /// How long the `trips`-th consecutive opening lasts (1-based).
    pub(crate) fn open_duration_for(&self, trips: u32) -> Duration {
        match self.growth {
            None => self.open_duration,
            Some((multiplier, max)) => {
                let factor = multiplier.powi(trips.saturating_sub(1).min(1024) as i32);
                let secs = self.open_duration.as_secs_f64() * factor;
                if secs.is_finite() && secs < max.as_secs_f64() {
                    Duration::from_secs_f64(secs)
                } else {
                    max
                }
            }
        }
    }

    /// Whether `totals` reached a rate threshold (after `minimum_calls`).
    pub(crate) fn rate_tripped(&self, calls: u32, failures: u32, slow: u32) -> bool {
        if calls < self.minimum_calls || calls == 0 {
            return false;
        }
        let calls = u64::from(calls);
        let over = |count: u32, ppm: u64| u64::from(count) * 1_000_000 >= ppm * calls;
        self.failure_rate_ppm.is_some_and(|ppm| over(failures, ppm))
            || self.slow.is_some_and(|(_, ppm)| over(slow, ppm))
    }
}
