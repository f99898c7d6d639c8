//! [`Sampler`]: how a call through an adaptive bulkhead reports its latency and outcome.

use std::fmt;

use tokio::time::Instant;

use crate::bulkhead::{Observer, Permit};
use crate::outcome::{Outcome, is_rejection};
use crate::{Class, Classify};

/// The [`Observer`] an [`AdaptiveBulkhead`](super::AdaptiveBulkhead)'s calls carry: times
/// the call from its permit to its outcome and feeds the bulkhead's limit algorithm.
///
/// What feeds it: a `Success` (a latency sample) and a failure, `Transient` or
/// `Permanent` (a sample that says "back off"), as `classifier` judges the outcome. What
/// does not: a `Benign` outcome (the caller's fault), a rejection from further in (the
/// dependency was never called) and a call dropped before it completed. Not every call is
/// timed: once a window holds enough samples, one in 64 is.
pub struct Sampler<C> {
    classifier: C,
    started: Option<Instant>,
}

impl<C> Sampler<C> {
    /// A sampler judging outcomes with `classifier`.
    pub const fn new(classifier: C) -> Self {
        Self {
            classifier,
            started: None,
        }
    }
}

impl<C> crate::bulkhead::ObserverSealed for Sampler<C> {}

impl<C, T, E> Observer<T, E> for Sampler<C>
where
    C: Classify<T, E>,
    E: 'static,
{
    #[inline]
    fn started(&mut self, permit: &Permit) {
        if let Some(control) = permit.bulkhead().control() {
            if control.wants_sample() {
                self.started = Some(Instant::now());
            }
        }
    }

    #[inline]
    fn finished(&mut self, permit: &Permit, outcome: &Outcome<T, E>) {
        let Some(started) = self.started.take() else {
            return;
        };
        let bulkhead = permit.bulkhead();
        let Some(control) = bulkhead.control() else {
            return;
        };
        if is_rejection(outcome) {
            return;
        }
        let class = match outcome {
            Ok(result) => self.classifier.classify(result),
            Err(err) => err.effective_class(),
        };
        let dropped = match class {
            Class::Success => false,
            Class::Benign => return,
            _ => true,
        };
        control.record(bulkhead.slots(), started, dropped);
    }
}

impl<C> fmt::Debug for Sampler<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sampler")
            .field("started", &self.started)
            .finish_non_exhaustive()
    }
}
