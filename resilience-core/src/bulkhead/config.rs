//! [`BulkheadBuilder`]: the validated configuration of a [`Bulkhead`].

use std::time::Duration;

use super::Bulkhead;
use crate::config::{ConfigError, check};
use crate::{Name, Primitive};

/// The largest `max_concurrent` or `max_waiting` a bulkhead accepts: both are kept in one
/// 32-bit half of the atomic state word.
pub const MAX_PERMITS: usize = u32::MAX as usize;

/// Builds a [`Bulkhead`]; see [`Bulkhead::builder`].
///
/// | option | default | anchor |
/// |---|---|---|
/// | [`name`](Self::name) | `"default"` | resilience4j's default instance name |
/// | [`max_concurrent`](Self::max_concurrent) | 25 | resilience4j `maxConcurrentCalls` |
/// | [`max_waiting`](Self::max_waiting) | 0: a full bulkhead rejects at once | tower issue #793 (load shedding, not queueing) |
/// | [`max_wait`](Self::max_wait) | 0 (no waiting) | resilience4j `maxWaitDuration` |
/// | [`retry_after`](Self::retry_after) | 1 s | the smallest non-zero HTTP `Retry-After` |
///
/// [`build`](Self::build) checks the options together and returns a [`ConfigError`] naming
/// the option at fault: `max_concurrent` of 0, counts above [`MAX_PERMITS`], a
/// `max_waiting` without a `max_wait` (waiters that give up at once) and a `max_wait`
/// without a `max_waiting` (a wait that can never happen).
#[derive(Clone, Debug)]
#[must_use = "a builder does nothing until `build` is called"]
pub struct BulkheadBuilder {
    pub(crate) name: Name,
    pub(crate) max_concurrent: usize,
    pub(crate) max_waiting: usize,
    pub(crate) max_wait: Duration,
    pub(crate) retry_after: Duration,
}

impl Default for BulkheadBuilder {
    fn default() -> Self {
        Self {
            name: Name::from_static("default"),
            max_concurrent: 25,
            max_waiting: 0,
            max_wait: Duration::ZERO,
            retry_after: Duration::from_secs(1),
        }
    }
}

impl BulkheadBuilder {
    /// The instance name: the `name` label of the bulkhead's metrics and the instance in
    /// its errors (`bulkhead=payments`). Keep it from configuration, never from request
    /// data, so the number of metric series stays bounded.
    pub fn name(mut self, name: impl Into<Name>) -> Self {
        self.name = name.into();
        self
    }

    /// How many calls may hold a permit at once (at least 1).
    pub fn max_concurrent(mut self, max_concurrent: usize) -> Self {
        self.max_concurrent = max_concurrent;
        self
    }

    /// How many callers of [`Bulkhead::acquire`] may wait for a permit when every permit is
    /// taken. Beyond that they are rejected at once. 0 (the default) never queues.
    pub fn max_waiting(mut self, max_waiting: usize) -> Self {
        self.max_waiting = max_waiting;
        self
    }

    /// How long a caller waits in the queue before it gives up with
    /// [`ErrorKind::BulkheadFull`](crate::ErrorKind::BulkheadFull). The ambient
    /// [deadline](crate::deadline) shortens it further.
    pub fn max_wait(mut self, max_wait: Duration) -> Self {
        self.max_wait = max_wait;
        self
    }

    /// The `retry_after` hint every `BulkheadFull` error carries (longer than zero). HTTP
    /// layers send it as `Retry-After`, rounded up to whole seconds.
    ///
    /// A fixed hint, not an estimate: estimating when a permit frees up would need a clock
    /// read on every call, and the fast path reads no clock. Set it near the typical
    /// duration of the protected call.
    pub fn retry_after(mut self, hint: Duration) -> Self {
        self.retry_after = hint;
        self
    }

    /// Validates the options and builds the bulkhead, resolving its metric handles against
    /// the `metrics` recorder installed now.
    pub fn build(self) -> Result<Bulkhead, ConfigError> {
        self.check()?;
        Ok(Bulkhead::from_builder(self))
    }

    /// The checks of [`build`](Self::build).
    pub(crate) fn check(&self) -> Result<(), ConfigError> {
        let p = Primitive::Bulkhead;
        check::nonzero(p, "max_concurrent", self.max_concurrent)?;
        at_most(p, "max_concurrent", self.max_concurrent)?;
        at_most(p, "max_waiting", self.max_waiting)?;
        check::nonzero_duration(p, "retry_after", self.retry_after)?;
        match (self.max_waiting, self.max_wait.is_zero()) {
            (0, false) => Err(ConfigError::new(
                p,
                "max_wait",
                format!(
                    "({:?}) has no effect while `max_waiting` is 0: set `max_waiting` to how \
                     many callers may wait",
                    self.max_wait
                ),
            )),
            (n, true) if n > 0 => Err(ConfigError::new(
                p,
                "max_wait",
                format!(
                    "must be longer than zero when `max_waiting` is {n}: waiters would give up \
                     at once"
                ),
            )),
            _ => Ok(()),
        }
    }
}

pub(crate) fn at_most(p: Primitive, option: &'static str, v: usize) -> Result<(), ConfigError> {
    if v <= MAX_PERMITS {
        Ok(())
    } else {
        Err(ConfigError::new(
            p,
            option,
            format!("must be at most {MAX_PERMITS}, got {v}"),
        ))
    }
}
