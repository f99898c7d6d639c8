//! A limit algorithm the test scripts, and calls held open until the test lets them end.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use resilience_core::adaptive::{
    AdaptiveBulkhead, AdaptiveBulkheadBuilder, LimitAlgorithm, Sample,
};

/// Returns whatever limit the test set, and keeps every sample it was fed.
#[derive(Debug, Clone)]
pub(crate) struct Scripted {
    pub(crate) target: Arc<AtomicUsize>,
    pub(crate) samples: Arc<Mutex<Vec<Sample>>>,
    pub(crate) max: usize,
}

impl Scripted {
    pub(crate) fn new(initial: usize, max: usize) -> Self {
        Self {
            target: Arc::new(AtomicUsize::new(initial)),
            samples: Arc::default(),
            max,
        }
    }

    pub(crate) fn set(&self, limit: usize) {
        self.target.store(limit, Ordering::SeqCst);
    }

    pub(crate) fn samples(&self) -> Vec<Sample> {
        self.samples.lock().unwrap().clone()
    }
}

impl LimitAlgorithm for Scripted {
    fn name(&self) -> &'static str {
        "scripted"
    }

    fn limit(&self) -> usize {
        self.target.load(Ordering::SeqCst)
    }

    fn min_limit(&self) -> usize {
        1
    }

    fn max_limit(&self) -> usize {
        self.max
    }

    fn update(&mut self, sample: &Sample) -> usize {
        self.samples.lock().unwrap().push(*sample);
        self.limit()
    }
}

/// An adaptive bulkhead moved by `script`: every call that ends 1 ms or more after the
/// last update is a full window.
pub(crate) fn scripted(script: &Scripted) -> AdaptiveBulkheadBuilder {
    AdaptiveBulkhead::builder()
        .name("scripted")
        .algorithm(script.clone())
        .min_window(Duration::from_millis(1))
        .max_window(Duration::from_millis(1))
        .window_samples(1)
}
