//! What an upstream is made of and what happens to it: its workers and queue, the faults in
//! front of it, and the one event of a scenario (an outage, or an overload trigger).

use std::time::Duration;

/// A span of the run, from its start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    /// When it starts, from the start of the run.
    pub start: Duration,
    /// How long it lasts.
    pub len: Duration,
}

impl Window {
    /// When it ends, from the start of the run.
    #[must_use]
    pub fn end(&self) -> Duration {
        self.start + self.len
    }

    /// Whether `elapsed` (since the start of the run) falls in it.
    #[must_use]
    pub fn contains(&self, elapsed: Duration) -> bool {
        elapsed >= self.start && elapsed < self.end()
    }
}

/// What every request meets during an outage.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutageMode {
    /// Requests are accepted and never answered (a blackholed dependency).
    Hang,
    /// Requests get `503` at once (a dead backend behind a proxy).
    Refuse,
}

/// The scenario's event: what goes wrong, and when.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Event {
    /// Every request hangs (or is refused) for the window, then the upstream is back.
    Outage {
        /// When.
        window: Window,
        /// How.
        mode: OutageMode,
    },
    /// Every charge a worker starts in the window takes `factor` times as long (a slow
    /// database, a noisy neighbour, a GC pause): the upstream's capacity drops to
    /// `1 / factor` of itself, then comes back.
    Overload {
        /// When.
        window: Window,
        /// How many times the usual service time.
        factor: f64,
    },
}

impl Event {
    /// When it happens.
    #[must_use]
    pub fn window(&self) -> Window {
        match self {
            Self::Outage { window, .. } | Self::Overload { window, .. } => *window,
        }
    }

    /// A short noun for tables and charts: "outage" or "trigger".
    #[must_use]
    pub fn noun(&self) -> &'static str {
        match self {
            Self::Outage { .. } => "outage",
            Self::Overload { .. } => "trigger",
        }
    }
}

/// The faults injected in front of the upstream's workers, by rate, all through the run:
/// the background of a bad day.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Flaky {
    /// Share of requests answered `503` with `Retry-After` (nothing charged).
    pub error_rate: f64,
    /// Share of requests delayed before they reach the workers (independent of the other
    /// faults: a delayed request may then be answered `503` too).
    pub slow_rate: f64,
    /// Range of that delay.
    pub slow: (Duration, Duration),
    /// Share of requests that hang: accepted, never answered, nothing charged.
    pub hang_rate: f64,
}

impl Flaky {
    /// No faults at all.
    pub const NONE: Self = Self {
        error_rate: 0.0,
        slow_rate: 0.0,
        slow: (Duration::ZERO, Duration::ZERO),
        hang_rate: 0.0,
    };
}

impl Default for Flaky {
    fn default() -> Self {
        Self {
            error_rate: 0.10,
            slow_rate: 0.08,
            slow: (Duration::from_millis(600), Duration::from_millis(4000)),
            hang_rate: 0.02,
        }
    }
}

/// Everything an upstream is told: both upstreams of a run get the same one.
#[derive(Clone, Debug, PartialEq)]
pub struct Script {
    /// Seed of every random draw.
    pub seed: u64,
    /// Charges processed at once.
    pub workers: usize,
    /// Charges waiting for a worker, at most; beyond that, `503` at once.
    pub queue: usize,
    /// Range of a charge's service time, in normal times.
    pub service: (Duration, Duration),
    /// The `Retry-After` the upstream sends with its 503s.
    pub retry_after: Duration,
    /// Faults in front of the workers, all through the run.
    pub flaky: Flaky,
    /// The scenario's event.
    pub event: Event,
}

impl Script {
    /// Charges per second the workers complete in normal times (at the mean service time).
    #[must_use]
    pub fn capacity(&self) -> f64 {
        let mean = (self.service.0 + self.service.1).as_secs_f64() / 2.0;
        self.workers as f64 / mean.max(1e-6)
    }

    /// How many times its usual service time a charge started at `elapsed` takes.
    #[must_use]
    pub fn slowdown(&self, elapsed: Duration) -> f64 {
        match self.event {
            Event::Overload { window, factor } if window.contains(elapsed) => factor,
            _ => 1.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slowdown_applies_inside_the_trigger_window_only() {
        let window = Window {
            start: Duration::from_secs(2),
            len: Duration::from_secs(3),
        };
        let script = Script {
            seed: 1,
            workers: 4,
            queue: 10,
            service: (Duration::from_millis(30), Duration::from_millis(50)),
            retry_after: Duration::from_secs(1),
            flaky: Flaky::NONE,
            event: Event::Overload {
                window,
                factor: 5.0,
            },
        };
        assert!((script.capacity() - 100.0).abs() < 1e-9);
        assert_eq!(script.slowdown(Duration::from_millis(1_999)), 1.0);
        assert_eq!(script.slowdown(Duration::from_secs(2)), 5.0);
        assert_eq!(script.slowdown(Duration::from_millis(4_999)), 5.0);
        assert_eq!(script.slowdown(Duration::from_secs(5)), 1.0);
    }
}
