//! What every rate limiter shares: its name, quota, clock, telemetry, and the errors it
//! answers with.

use std::time::Duration;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use arc_swap::ArcSwap;
use tokio::time::Instant;

use super::Quota;
use super::acquire::{Acquire, Grant, Waiter};
use super::clock::Clock;
use super::gcra::{Gcra, Verdict};
use crate::durations::nanos;
use crate::telemetry::{label, metric};
use crate::{Class, Deadline, Error, ErrorKind, Name, Primitive};

/// Field of a `RateLimited` error: the limit's burst (the `q` of `RateLimit-Policy`).
pub const FIELD_LIMIT: &str = "limit";
/// Field of a `RateLimited` error: the limit's refill time (the `w` of `RateLimit-Policy`).
pub const FIELD_WINDOW: &str = "window";
/// Field of a `RateLimited` error: how long until the key's whole burst is back (the `t`
/// of `RateLimit`).
pub const FIELD_RESET: &str = "reset";

pub(crate) struct Common {
    pub(crate) name: Name,
    /// The quota and `max_wait`, swapped whole by [`reconfigure`](Self::reconfigure):
    /// what the cold paths (errors, snapshots) read.
    tuned: ArcSwap<Tuned>,
    /// The quota's two numbers again, for the hot path: two plain loads instead of a
    /// load of `tuned`.
    gcra: SharedGcra,
    /// `max_wait` again in nanoseconds, for the hot path (whether a caller may wait).
    max_wait_ns: AtomicU64,
    /// Serialises [`reconfigure`](Self::reconfigure) (the writer side of `gcra`).
    writer: Mutex<()>,
    /// TATs are nanoseconds of this clock.
    clock: Clock,
    telemetry: Telemetry,
}

struct Telemetry {
    permitted: metrics::Counter,
    limited: metrics::Counter,
    wait: metrics::Histogram,
    #[cfg_attr(not(feature = "redis"), allow(dead_code))] // Used by the Redis limiter.
    store_errors: metrics::Counter,
}

impl Common {
    pub(crate) fn new(name: Name, quota: Quota, max_wait: Duration) -> Self {
        let labels = [(label::NAME, name.to_shared_string())];
        let telemetry = Telemetry {
            permitted: metrics::counter!(metric::RATE_LIMIT_PERMITTED_TOTAL, &labels),
            limited: metrics::counter!(metric::RATE_LIMIT_LIMITED_TOTAL, &labels),
            wait: metrics::histogram!(metric::RATE_LIMIT_WAIT_SECONDS, &labels),
            store_errors: metrics::counter!(metric::RATE_LIMIT_STORE_ERRORS_TOTAL, &labels),
        };
        Self {
            name,
            gcra: SharedGcra::new(quota),
            writer: Mutex::new(()),
            tuned: ArcSwap::from_pointee(Tuned { quota, max_wait }),
            max_wait_ns: AtomicU64::new(nanos(max_wait)),
            clock: Clock::new(),
            telemetry,
        }
    }

    /// Nanoseconds since this limiter was built.
    #[inline]
    pub(crate) fn now(&self) -> u64 {
        self.clock.now()
    }

    /// The longest a caller arriving now may wait: `max_wait`, or less if the ambient
    /// deadline comes first (then `true`).
    pub(crate) fn wait_limit(&self) -> (u64, bool) {
        match Deadline::current() {
            Some(deadline) => {
                let left = nanos(deadline.remaining());
                if left < self.max_wait_ns() {
                    (left, true)
                } else {
                    (self.max_wait_ns(), false)
                }
            }
            None => (self.max_wait_ns(), false),
        }
    }

    /// The quota in force.
    pub(crate) fn quota(&self) -> Quota {
        self.tuned.load().quota
    }

    /// The quota's interval and tolerance in force: the hot path's read.
    #[inline]
    pub(crate) fn gcra(&self) -> Gcra {
        self.gcra.read()
    }

    /// `max_wait` in force.
    pub(crate) fn max_wait(&self) -> Duration {
        self.tuned.load().max_wait
    }

    #[inline]
    fn max_wait_ns(&self) -> u64 {
        self.max_wait_ns.load(Ordering::Relaxed)
    }

    /// Replaces the quota and `max_wait` in place. The time already granted (each
    /// key's TAT) is kept: a caller that used its burst under the old quota does not get
    /// a new one, and the new quota governs every decision from now on.
    pub(crate) fn reconfigure(&self, quota: Quota, max_wait: Duration) {
        self.reconfigure_then(quota, max_wait, || ());
    }

    /// [`reconfigure`](Self::reconfigure), then `then` (what else the limiter changes),
    /// both under the one writer lock: two reconfigurations at once apply one after the
    /// other, never a mix of the two.
    pub(crate) fn reconfigure_then(&self, quota: Quota, max_wait: Duration, then: impl FnOnce()) {
        let _one_writer = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        self.tuned.store(Arc::new(Tuned { quota, max_wait }));
        self.gcra.write(quota);
        self.max_wait_ns.store(nanos(max_wait), Ordering::Relaxed);
        then();
    }

    #[inline]
    pub(crate) fn may_wait(&self) -> bool {
        self.max_wait_ns() > 0
    }

    /// A grant leaving the TAT `backlog` ahead of the moment of admission.
    #[inline]
    pub(crate) fn grant(&self, gcra: Gcra, backlog: u64) -> Grant {
        self.telemetry.permitted.increment(1);
        Grant::new(gcra, backlog)
    }

    /// The outcome of a verdict reached at `now` for a caller that could wait until the
    /// limit of [`wait_limit`](Self::wait_limit) (`by_deadline`: the deadline set it).
    /// `waiter` is called only when the caller must wait.
    pub(crate) fn resolve(
        &self,
        verdict: Verdict,
        now: u64,
        by_deadline: bool,
        waiter: impl FnOnce() -> Waiter,
    ) -> Acquire {
        match verdict {
            Verdict::Conform { tat, wait: 0 } => {
                Acquire::ready(Ok(self.grant(self.gcra(), tat - now)))
            }
            Verdict::Conform { tat, wait } => {
                let until = Instant::now() + Duration::from_nanos(wait);
                let grant = Grant::new(self.gcra(), tat - now - wait);
                Acquire::waiting(waiter(), until, grant)
            }
            Verdict::Refuse {
                retry_after,
                backlog,
            } => Acquire::ready(Err(self.refusal(retry_after, backlog, by_deadline))),
        }
    }

    /// The error for a caller whose turn is `retry_after` away, longer than it could wait:
    /// `DeadlineExceeded` when only the deadline stood in the way, else `RateLimited`.
    #[cold]
    pub(crate) fn refusal(&self, retry_after: u64, backlog: u64, by_deadline: bool) -> Error {
        if by_deadline && retry_after <= self.max_wait_ns() {
            self.past_deadline(retry_after)
        } else {
            self.limited(retry_after, backlog)
        }
    }

    /// The admission of a caller that waited `waited` for its turn.
    pub(crate) fn waited(&self, waited: Duration) {
        self.telemetry.permitted.increment(1);
        self.telemetry.wait.record(waited.as_secs_f64());
    }

    fn refused(&self, err: Error) -> Error {
        self.telemetry.limited.increment(1);
        tracing::debug!(
            rate_limit = self.name.as_str(),
            kind = err.kind().as_str(),
            retry_after = ?err.retry_after(),
            "rate limit refused a call"
        );
        err
    }

    /// `RateLimited`, come back in `retry_after`; the key's TAT is `backlog` ahead.
    #[cold]
    pub(crate) fn limited(&self, retry_after: u64, backlog: u64) -> Error {
        self.refused(
            Error::new(ErrorKind::RateLimited)
                .or_origin(Primitive::RateLimit, self.name.clone())
                .with_retry_after(Duration::from_nanos(retry_after))
                .with_field(FIELD_LIMIT, self.quota().burst())
                .with_field(FIELD_WINDOW, self.quota().refill())
                .with_field(FIELD_RESET, Duration::from_nanos(backlog)),
        )
    }

    /// The turn would come after the ambient deadline: `DeadlineExceeded`, at once.
    #[cold]
    fn past_deadline(&self, needed: u64) -> Error {
        self.refused(
            Error::new(ErrorKind::DeadlineExceeded)
                .or_origin(Primitive::RateLimit, self.name.clone())
                .with_field("needed_wait", Duration::from_nanos(needed)),
        )
    }

    /// More units than the burst: no wait would ever do.
    #[cold]
    pub(crate) fn too_costly(&self, n: u32) -> Error {
        self.refused(
            Error::new(ErrorKind::RateLimited)
                .or_origin(Primitive::RateLimit, self.name.clone())
                .with_class(Class::Permanent)
                .with_detail("The request costs more than the rate limit's burst allows.")
                .with_field("units", n)
                .with_field(FIELD_LIMIT, self.quota().burst())
                .with_field(FIELD_WINDOW, self.quota().refill()),
        )
    }

    /// A backing store failed and the limiter is configured to let calls through.
    #[cfg_attr(not(feature = "redis"), allow(dead_code))] // Used by the Redis limiter.
    pub(crate) fn store_error(&self) {
        self.telemetry.store_errors.increment(1);
    }

    /// A backing store failed and the limiter refuses: `StoreUnavailable`.
    #[cfg_attr(not(feature = "redis"), allow(dead_code))] // Used by the Redis limiter.
    pub(crate) fn unavailable(&self, source: impl Into<crate::BoxError>) -> Error {
        self.store_error();
        Error::new(ErrorKind::StoreUnavailable)
            .or_origin(Primitive::RateLimit, self.name.clone())
            .with_detail("the rate limit store is unavailable")
            .with_source(source)
    }
}

/// A quota and how long a caller may wait under it.
struct Tuned {
    quota: Quota,
    max_wait: Duration,
}

/// A [`Gcra`] that a reconfiguration changes in place, kept as its interval and its burst
/// (a count), each in its own atomic, read without a lock or a retry.
///
/// A read that races a write may pair one quota's interval with the other's burst. That
/// pair is harmless, which is why no sequence lock guards it: it is a quota of one of the
/// two rates with one of the two bursts, so what it admits stays within the larger rate
/// and the larger burst of the two. (Pairing an interval with the other quota's
/// *tolerance*, a duration, would not be: a slow quota's long tolerance over a fast
/// quota's short interval is a burst neither quota allows.) The tolerance is the product,
/// saturating: a mixed pair past a year only ever admits what its burst allows at its rate.
struct SharedGcra {
    interval: AtomicU64,
    burst: AtomicU64,
}

impl SharedGcra {
    fn new(quota: Quota) -> Self {
        Self {
            interval: AtomicU64::new(quota.gcra.interval),
            burst: AtomicU64::new(u64::from(quota.burst())),
        }
    }

    #[inline]
    fn read(&self) -> Gcra {
        let interval = self.interval.load(Ordering::Relaxed);
        let burst = self.burst.load(Ordering::Relaxed);
        Gcra {
            interval,
            tolerance: burst.saturating_mul(interval),
        }
    }

    fn write(&self, quota: Quota) {
        self.interval.store(quota.gcra.interval, Ordering::Relaxed);
        self.burst
            .store(u64::from(quota.burst()), Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rate_limit::config::Spec;

    fn quota(per_second: f64, burst: u32) -> Quota {
        let mut spec = Spec::default();
        spec.rate(per_second);
        spec.burst(burst);
        spec.quota().unwrap()
    }

    #[test]
    fn a_read_racing_a_write_pairs_a_rate_with_a_burst_of_the_two_quotas() {
        // Fast with a small burst, slow with a large one: the pair a torn read could see
        // if it mixed an interval with the other quota's tolerance would allow a burst of
        // 50 × 100 ms / 1 ms = 5000 units, which neither quota allows.
        let fast = quota(1000.0, 1);
        let slow = quota(10.0, 50);
        let gcra = SharedGcra::new(slow);
        // What a reader sees between the writer's two stores.
        gcra.interval.store(fast.gcra.interval, Ordering::Relaxed);
        let torn = gcra.read();
        assert_eq!(torn.interval, fast.gcra.interval);
        assert_eq!(torn.tolerance / torn.interval, 50, "the slow quota's burst");
        assert!(torn.tolerance <= slow.gcra.tolerance);
        gcra.write(fast);
        assert_eq!(gcra.read(), fast.gcra);
        gcra.write(slow);
        assert_eq!(gcra.read(), slow.gcra);
    }
}
