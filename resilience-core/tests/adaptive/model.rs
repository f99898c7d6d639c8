//! Property tests: the limit stays within its bounds whatever the samples, and no permit
//! leaks while the limit moves under real concurrency and random cancellation.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use proptest::prelude::*;
use resilience_core::ErrorKind;
use resilience_core::adaptive::{Aimd, LimitAlgorithm, Sample, Vegas};

use crate::bulkhead_support::pseudo_random;
use crate::support::{Scripted, scripted};

fn samples() -> impl Strategy<Value = Vec<Sample>> {
    prop::collection::vec(
        (0_u64..5_000_000, 0_usize..2_000, any::<bool>()).prop_map(
            |(micros, in_flight, dropped)| {
                Sample::new(Duration::from_micros(micros), in_flight, dropped)
            },
        ),
        1..300,
    )
}

fn bounds() -> impl Strategy<Value = (usize, usize, usize)> {
    (1_usize..100, 0_usize..1_000, 0.0_f64..=1.0).prop_map(|(min, span, at)| {
        let max = min + span;
        (min + (span as f64 * at) as usize, min, max)
    })
}

fn assert_within(algorithm: &mut impl LimitAlgorithm, samples: &[Sample]) {
    let (min, max) = (algorithm.min_limit(), algorithm.max_limit());
    for sample in samples {
        let limit = algorithm.update(sample);
        assert!(
            (min..=max).contains(&limit),
            "{limit} not in [{min}, {max}]"
        );
        assert_eq!(limit, algorithm.limit());
    }
}

proptest! {
    #[test]
    fn aimd_limit_stays_within_its_bounds(
        (initial, min, max) in bounds(),
        ratio in 0.5_f64..1.0,
        timeout_ms in 1_u64..3_000,
        samples in samples(),
    ) {
        let mut aimd = Aimd::builder()
            .initial_limit(initial)
            .min_limit(min)
            .max_limit(max)
            .backoff_ratio(ratio)
            .timeout(Duration::from_millis(timeout_ms))
            .build()
            .unwrap();
        assert_within(&mut aimd, &samples);
    }

    #[test]
    fn vegas_limit_stays_within_its_bounds(
        (initial, min, max) in bounds(),
        alpha in 0.1_f64..10.0,
        gap in 0.1_f64..10.0,
        smoothing in 0.01_f64..=1.0,
        probe in 1_u32..50,
        samples in samples(),
    ) {
        let mut vegas = Vegas::builder()
            .initial_limit(initial)
            .min_limit(min)
            .max_limit(max)
            .alpha(alpha)
            .beta(alpha + gap)
            .smoothing(smoothing)
            .probe_multiplier(probe)
            .build()
            .unwrap();
        assert_within(&mut vegas, &samples);
    }
}

const TASKS: usize = 1_000;

/// Counts a call out of `current` when dropped.
struct InCall<'a>(&'a AtomicUsize);

impl Drop for InCall<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(6))]

    #[test]
    fn permits_never_leak_while_the_limit_moves_under_random_cancellation(seed in any::<u64>()) {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(4)
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let script = Scripted::new(8, 16);
            let limiter = scripted(&script)
                .min_window(Duration::from_micros(1))
                .max_window(Duration::from_micros(1))
                .max_waiting(16)
                .max_wait(Duration::from_millis(20))
                .build()
                .unwrap();
            let peak = Arc::new(AtomicUsize::new(0));
            let current = Arc::new(AtomicUsize::new(0));
            let tasks: Vec<_> = (0..TASKS as u64)
                .map(|i| {
                    let limiter = limiter.clone();
                    let script = script.clone();
                    let (peak, current) = (Arc::clone(&peak), Arc::clone(&current));
                    tokio::spawn(async move {
                        let mut random = pseudo_random(seed ^ i);
                        let steps = random(8);
                        let next_limit = 1 + random(16) as usize;
                        let call = limiter.call(async {
                            let now = current.fetch_add(1, Ordering::SeqCst) + 1;
                            peak.fetch_max(now, Ordering::SeqCst);
                            // Leaves the count however the call ends, cancelled included.
                            let _in_call = InCall(&current);
                            for _ in 0..steps {
                                tokio::task::yield_now().await;
                            }
                            script.set(next_limit);
                            Ok::<_, std::io::Error>(())
                        });
                        if random(2) == 0 {
                            let yields = random(12);
                            tokio::select! {
                                biased;
                                outcome = call => outcome.map_err(|e| e.kind()),
                                () = async {
                                    for _ in 0..yields {
                                        tokio::task::yield_now().await;
                                    }
                                } => Ok(()),
                            }
                        } else {
                            call.await.map_err(|e| e.kind())
                        }
                    })
                })
                .collect();
            for task in tasks {
                match task.await.expect("no task panics") {
                    Ok(()) | Err(ErrorKind::BulkheadFull) => {}
                    Err(other) => panic!("unexpected {other:?}"),
                }
            }
            assert!(!script.samples().is_empty(), "the limit was moved");
            assert!(peak.load(Ordering::SeqCst) <= 16, "never above the highest limit");
            assert_eq!((limiter.in_flight(), limiter.waiting()), (0, 0));
            // Exactly `limit` permits to take: none leaked, none released twice.
            let limit = limiter.limit();
            let held: Vec<_> = (0..limit)
                .map(|_| limiter.bulkhead().try_acquire().expect("a free slot"))
                .collect();
            assert!(limiter.bulkhead().try_acquire().is_err());
            drop(held);
            assert_eq!(limiter.in_flight(), 0);
        });
    }
}

/// A smoothed step toward the floor must not round below it: 53 × 0.7 + 53 × 0.3 is
/// 52.999… in floating point.
#[test]
fn a_smoothed_vegas_limit_at_its_floor_does_not_round_below_it() {
    let mut vegas = Vegas::builder()
        .initial_limit(53)
        .min_limit(53)
        .max_limit(545)
        .smoothing(0.3)
        .build()
        .unwrap();
    // Establish the no-load latency, then report failures: each pushes toward the floor.
    vegas.update(&Sample::new(Duration::from_millis(10), 53, false));
    for _ in 0..20 {
        let limit = vegas.update(&Sample::new(Duration::from_millis(20), 53, true));
        assert_eq!(limit, 53);
    }
}
