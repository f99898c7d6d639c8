//! A window that ends while the bulkhead is reconfigured: the new algorithm's bounds hold
//! afterwards (the old algorithm's decision never lands after the swap).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use resilience_core::adaptive::{
    AdaptiveBulkhead, AdaptiveBulkheadBuilder, LimitAlgorithm, Sample,
};

/// Always the same limit; `update` takes `spin` (busy), widening the moment between its
/// decision and the limit taking effect.
#[derive(Debug)]
struct Fixed {
    tag: &'static str,
    limit: usize,
    spin: Duration,
}

impl LimitAlgorithm for Fixed {
    fn name(&self) -> &'static str {
        self.tag
    }

    fn limit(&self) -> usize {
        self.limit
    }

    fn min_limit(&self) -> usize {
        1
    }

    fn max_limit(&self) -> usize {
        self.limit
    }

    fn update(&mut self, _: &Sample) -> usize {
        let start = Instant::now();
        while start.elapsed() < self.spin {
            std::hint::spin_loop();
        }
        self.limit
    }
}

/// A window after every call, deciding 1000.
fn large() -> AdaptiveBulkheadBuilder {
    AdaptiveBulkhead::builder()
        .algorithm(Fixed {
            tag: "large",
            limit: 1000,
            spin: Duration::from_micros(30),
        })
        .min_window(Duration::from_nanos(1))
        .max_window(Duration::from_nanos(1))
        .window_samples(1)
}

/// At most 10, and windows that never end (nothing would correct a wrong limit).
fn small() -> AdaptiveBulkheadBuilder {
    AdaptiveBulkhead::builder()
        .algorithm(Fixed {
            tag: "small",
            limit: 10,
            spin: Duration::ZERO,
        })
        .min_window(Duration::from_secs(3600))
        .max_window(Duration::from_secs(3600))
        .window_samples(u32::MAX)
}

#[test]
fn a_window_ending_during_a_reconfiguration_does_not_undo_it() {
    let bulkhead = large().build().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..3)
        .map(|_| {
            let bulkhead = bulkhead.clone();
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_time()
                    .build()
                    .unwrap();
                while !stop.load(Ordering::Relaxed) {
                    let _ = runtime.block_on(bulkhead.call(async { Ok::<_, std::io::Error>(()) }));
                }
            })
        })
        .collect();
    let mut over = Vec::new();
    for _ in 0..300 {
        bulkhead.reconfigure(large()).unwrap();
        std::thread::sleep(Duration::from_micros(200));
        bulkhead.reconfigure(small()).unwrap();
        std::thread::sleep(Duration::from_micros(100));
        let snapshot = bulkhead.snapshot();
        if snapshot.limit > snapshot.max_limit {
            over.push(snapshot.limit);
        }
    }
    stop.store(true, Ordering::Relaxed);
    for worker in workers {
        worker.join().unwrap();
    }
    assert!(
        over.is_empty(),
        "{} of 300 reconfigurations to a maximum of 10 left the limit above it: {:?}",
        over.len(),
        &over[..over.len().min(5)]
    );
}
