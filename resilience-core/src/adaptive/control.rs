//! [`Control`]: what moves an adaptive bulkhead's limit — latency samples gathered into
//! windows without a lock, one algorithm update per window.

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering::Relaxed};
use std::sync::{Mutex, MutexGuard, PoisonError, TryLockError};
use std::time::Duration;

use tokio::time::Instant;

use super::{LimitAlgorithm, Sample};
use crate::Name;
use crate::bulkhead::Slots;
use crate::durations::nanos;

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

/// The algorithm and what it was configured as.
struct Algorithm {
    algorithm: Box<dyn LimitAlgorithm>,
    /// Its `Debug` form when it was built, before any sample: equal for two algorithms
    /// built with the same options, so that a reconfiguration with the same algorithm
    /// keeps the one running (and what it has learnt).
    configured: String,
}

/// The adaptive part of a bulkhead: samples in, limit out.
pub(crate) struct Control {
    name: Name,
    algorithm: Mutex<Algorithm>,
    /// The window settings, each changed in place by [`reconfigure`](Self::reconfigure).
    min_window: AtomicU64,
    max_window: AtomicU64,
    min_samples: AtomicU32,
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
            algorithm: Mutex::new(Algorithm {
                configured: format!("{algorithm:?}"),
                algorithm,
            }),
            min_window: AtomicU64::new(nanos(config.min_window)),
            max_window: AtomicU64::new(nanos(config.max_window)),
            min_samples: AtomicU32::new(config.min_samples),
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

    fn algorithm(&self) -> MutexGuard<'_, Algorithm> {
        // An algorithm that panicked is still the best estimate there is.
        self.algorithm
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The algorithm's name (`"aimd"`, `"vegas"`) and the lowest and highest its limit
    /// goes, read together.
    pub(crate) fn algorithm_and_bounds(&self) -> (&'static str, usize, usize) {
        let running = self.algorithm();
        let algorithm = &running.algorithm;
        (
            algorithm.name(),
            algorithm.min_limit(),
            algorithm.max_limit(),
        )
    }

    /// Applies new window settings and `algorithm`, for the bulkhead whose `slots` this
    /// control moves. An algorithm configured as the one running is dropped and the
    /// running one kept (with what it has learnt); another replaces it, moved to the
    /// current limit clamped into its bounds ([`LimitAlgorithm::set_limit`]). The
    /// current window goes on; its end moves under a shorter `max_window`.
    pub(crate) fn reconfigure(
        &self,
        slots: &Slots,
        algorithm: Box<dyn LimitAlgorithm>,
        config: WindowConfig,
    ) {
        let mut running = self.algorithm();
        self.min_samples.store(config.min_samples, Relaxed);
        self.min_window.store(nanos(config.min_window), Relaxed);
        self.max_window.store(nanos(config.max_window), Relaxed);
        let now = nanos(Instant::now().saturating_duration_since(self.base));
        self.window
            .ends
            .fetch_min(now.saturating_add(nanos(config.max_window)), Relaxed);
        let configured = format!("{algorithm:?}");
        if configured == running.configured {
            return;
        }
        let mut algorithm = algorithm;
        let (min, max) = (algorithm.min_limit(), algorithm.max_limit());
        algorithm.set_limit(slots.limit().clamp(min, max));
        let limit = algorithm.limit().clamp(min, max);
        tracing::debug!(
            bulkhead = self.name.as_str(),
            from = running.algorithm.name(),
            to = algorithm.name(),
            limit,
            "adaptive bulkhead swapped its algorithm"
        );
        *running = Algorithm {
            algorithm,
            configured,
        };
        if limit != slots.limit() {
            slots.set_limit(limit);
            self.limit_gauge.set(limit as f64);
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
        if self.window.calls.load(Relaxed) < self.min_samples.load(Relaxed) {
            // Too few calls to judge by: the window goes on until it has them (a
            // dependency that slows down sends fewer samples; its windows get longer).
            return;
        }
        let mut running = match self.algorithm.try_lock() {
            Ok(running) => running,
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
        // `max`/`min`, not `clamp`: a reconfiguration between the two loads may leave
        // them inverted for a moment, and that must not panic.
        let length = min
            .saturating_mul(2)
            .max(self.min_window.load(Relaxed))
            .min(self.max_window.load(Relaxed));
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
        let algorithm = &mut running.algorithm;
        let limit = algorithm
            .update(&sample)
            .clamp(algorithm.min_limit(), algorithm.max_limit());
        self.service_nanos.store(average.max(1), Relaxed);
        let moved = limit != slots.limit();
        if moved {
            // Set under the algorithm's lock: a reconfiguration cannot come between this
            // algorithm's decision and its taking effect (and be undone by it).
            slots.set_limit(limit);
            self.limit_gauge.set(limit as f64);
        }
        drop(running);
        if moved {
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
