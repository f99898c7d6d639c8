//! [`Control`]: what moves an adaptive bulkhead's limit — latency samples gathered into
//! windows without a lock, one algorithm update per window.

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering::Relaxed};
use std::sync::{Mutex, TryLockError};
use std::time::Duration;

use tokio::time::Instant;

use super::{LimitAlgorithm, Sample};
use crate::Name;
use crate::bulkhead::Slots;

/// Every call is timed until a window holds this many samples; after that one call in
/// [`SPARSE_EVERY`] (per thread) is, enough to notice that the window has ended. At high
/// rates this keeps the two clock reads of a sample off almost every call.
const DENSE_SAMPLES: u32 = 64;
const SPARSE_EVERY: u32 = 64;

thread_local! {
    static TICK: Cell<u32> = const { Cell::new(0) };
}

/// The window settings: Netflix `WindowedLimit`'s `minWindowTime`, `maxWindowTime` and
/// `windowSize`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct WindowConfig {
    pub(crate) min_window: Duration,
    pub(crate) max_window: Duration,
    pub(crate) min_samples: u32,
}

/// The adaptive part of a bulkhead: samples in, limit out.
pub(crate) struct Control {
    name: Name,
    algorithm: Mutex<Box<dyn LimitAlgorithm>>,
    pub(crate) algorithm_name: &'static str,
    pub(crate) min_limit: usize,
    pub(crate) max_limit: usize,
    config: WindowConfig,
    base: Instant,
    window: Window,
    /// The last full window's average latency, in nanoseconds; 0 before the first.
    service_nanos: AtomicU64,
    limit_gauge: metrics::Gauge,
}

/// The running sums of the current window. Each is updated on its own, so a sample that
/// races with the end of a window may land partly in the next one: the windows are
/// estimates, and a lock per call would cost more than it would fix.
struct Window {
    calls: AtomicU32,
    sum_nanos: AtomicU64,
    min_nanos: AtomicU64,
    max_in_flight: AtomicU32,
    dropped: AtomicBool,
    /// When the window ends, in nanoseconds since `base`.
    ends: AtomicU64,
}

impl Control {
    pub(crate) fn new(
        name: Name,
        algorithm: Box<dyn LimitAlgorithm>,
        config: WindowConfig,
        limit_gauge: metrics::Gauge,
    ) -> Self {
        limit_gauge.set(algorithm.limit() as f64);
        Self {
            name,
            algorithm_name: algorithm.name(),
            min_limit: algorithm.min_limit(),
            max_limit: algorithm.max_limit(),
            algorithm: Mutex::new(algorithm),
            config,
            base: Instant::now(),
            window: Window {
                calls: AtomicU32::new(0),
                sum_nanos: AtomicU64::new(0),
                min_nanos: AtomicU64::new(u64::MAX),
                max_in_flight: AtomicU32::new(0),
                dropped: AtomicBool::new(false),
                ends: AtomicU64::new(nanos(config.min_window)),
            },
            service_nanos: AtomicU64::new(0),
            limit_gauge,
        }
    }

    /// Whether the call starting now should be timed.
    #[inline]
    pub(crate) fn wants_sample(&self) -> bool {
        self.window.calls.load(Relaxed) < DENSE_SAMPLES
            || TICK.with(|tick| {
                let n = tick.get().wrapping_add(1);
                tick.set(n);
                n % SPARSE_EVERY == 0
            })
    }

    /// The average latency of the last full window.
    pub(crate) fn service_time(&self) -> Option<Duration> {
        match self.service_nanos.load(Relaxed) {
            0 => None,
            n => Some(Duration::from_nanos(n)),
        }
    }

    /// How long the caller at `position` in the queue should expect to wait for one of
    /// `limit` slots: slots free up at `limit / service_time`.
    pub(crate) fn expected_wait(&self, position: usize, limit: usize) -> Option<Duration> {
        let service = self.service_nanos.load(Relaxed);
        if service == 0 {
            return None;
        }
        let wait = u128::from(service) * position as u128 / limit.max(1) as u128;
        Some(Duration::from_nanos(
            u64::try_from(wait).unwrap_or(u64::MAX),
        ))
    }

    /// Records a call that started at `start` and has just ended (`dropped`: it failed),
    /// ending the window if its time is up.
    pub(crate) fn record(&self, slots: &Slots, start: Instant, dropped: bool) {
        let now = Instant::now();
        let rtt = nanos(now.saturating_duration_since(start));
        let w = &self.window;
        w.calls.fetch_add(1, Relaxed);
        w.sum_nanos.fetch_add(rtt, Relaxed);
        w.min_nanos.fetch_min(rtt, Relaxed);
        let in_flight = u32::try_from(slots.in_flight()).unwrap_or(u32::MAX);
        w.max_in_flight.fetch_max(in_flight, Relaxed);
        if dropped {
            w.dropped.store(true, Relaxed);
        }
        let at = nanos(now.saturating_duration_since(self.base));
        if at >= w.ends.load(Relaxed) {
            self.end_window(slots, at);
        }
    }

    #[cold]
    fn end_window(&self, slots: &Slots, at: u64) {
        if self.window.calls.load(Relaxed) < self.config.min_samples {
            // Too few calls to judge by: the window goes on until it has them (a
            // dependency that slows down sends fewer samples; its windows get longer).
            return;
        }
        let mut algorithm = match self.algorithm.try_lock() {
            Ok(algorithm) => algorithm,
            // An algorithm that panicked is still the best estimate there is.
            Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
            // Another caller is ending this window.
            Err(TryLockError::WouldBlock) => return,
        };
        let w = &self.window;
        if at < w.ends.load(Relaxed) {
            return;
        }
        let calls = w.calls.swap(0, Relaxed);
        let sum = w.sum_nanos.swap(0, Relaxed);
        let min = w.min_nanos.swap(u64::MAX, Relaxed);
        let in_flight = w.max_in_flight.swap(0, Relaxed);
        let dropped = w.dropped.swap(false, Relaxed);
        // The next window lasts twice the shortest latency, within the bounds (Netflix).
        let length = min
            .saturating_mul(2)
            .clamp(nanos(self.config.min_window), nanos(self.config.max_window));
        w.ends.store(at.saturating_add(length), Relaxed);
        if calls == 0 {
            return;
        }
        let average = sum / u64::from(calls);
        let sample = Sample {
            rtt: Duration::from_nanos(average),
            min_rtt: Duration::from_nanos(min.min(average)),
            in_flight: in_flight as usize,
            dropped,
            calls,
        };
        let limit = algorithm
            .update(&sample)
            .clamp(self.min_limit, self.max_limit);
        drop(algorithm);
        self.service_nanos.store(average.max(1), Relaxed);
        if limit != slots.limit() {
            slots.set_limit(limit);
            self.limit_gauge.set(limit as f64);
            tracing::debug!(
                bulkhead = self.name.as_str(),
                limit,
                rtt_seconds = sample.rtt.as_secs_f64(),
                in_flight = sample.in_flight,
                dropped,
                "adaptive bulkhead moved its limit"
            );
        }
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}
