//! Helpers shared by the retry tests.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use resilience_core::retry::{Backoff, Jitter, RetryPolicy, RetryPolicyBuilder};
use resilience_core::{Error, ErrorKind};
use tokio::time::Instant;

pub(crate) const MS: Duration = Duration::from_millis(1);

/// A policy without jitter or budget, so delays are exact.
pub(crate) fn exact(backoff: Backoff, max_attempts: u32) -> RetryPolicyBuilder {
    RetryPolicy::builder()
        .max_attempts(max_attempts)
        .backoff(backoff)
        .max_delay(Duration::from_secs(60))
        .jitter(Jitter::None)
        .no_budget()
}

/// Records the (tokio) instant of every attempt.
#[derive(Clone, Default)]
pub(crate) struct Attempts(Arc<Mutex<Vec<Instant>>>);

impl Attempts {
    pub(crate) fn hit(&self) -> usize {
        let mut v = self.0.lock().unwrap();
        v.push(Instant::now());
        v.len()
    }

    pub(crate) fn count(&self) -> usize {
        self.0.lock().unwrap().len()
    }

    /// The gaps between consecutive attempts.
    pub(crate) fn gaps(&self) -> Vec<Duration> {
        let v = self.0.lock().unwrap();
        v.windows(2).map(|w| w[1] - w[0]).collect()
    }
}

/// A failure of the operation itself.
pub(crate) fn boom() -> Error {
    Error::new(ErrorKind::Inner)
}
