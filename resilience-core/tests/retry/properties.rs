//! Property tests: attempts and total time within the policy's bounds. (Each delay within
//! its jitter formula's bounds is a unit test of `retry/backoff.rs`.)

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use proptest::prelude::*;
use resilience_core::retry::{Backoff, Jitter, RetryPolicy};
use tokio::time::Instant;

use crate::support::boom;

fn backoff() -> impl Strategy<Value = Backoff> {
    let ms = 0_u64..2_000;
    prop_oneof![
        ms.clone()
            .prop_map(|d| Backoff::constant(Duration::from_millis(d))),
        (ms.clone(), ms.clone())
            .prop_map(|(b, s)| Backoff::linear(Duration::from_millis(b), Duration::from_millis(s))),
        (ms, 1.0_f64..4.0)
            .prop_map(|(b, f)| Backoff::exponential_with_factor(Duration::from_millis(b), f)),
    ]
}

fn jitter() -> impl Strategy<Value = Jitter> {
    prop_oneof![
        Just(Jitter::None),
        Just(Jitter::Full),
        Just(Jitter::Equal),
        Just(Jitter::Decorrelated),
    ]
}

proptest! {
    #[test]
    fn attempts_and_total_time_stay_within_the_policy(
        backoff in backoff(),
        jitter in jitter(),
        max_attempts in 1_u32..8,
        attempt_ms in 0_u64..1_500,
        attempt_timeout_ms in proptest::option::of(1_u64..1_000),
        budget_ms in 1_u64..10_000,
        hint_ms in proptest::option::of(0_u64..3_000),
        seed in any::<u64>(),
    ) {
        let mut builder = RetryPolicy::builder()
            .max_attempts(max_attempts)
            .backoff(backoff)
            .max_delay(backoff.base() + Duration::from_secs(2))
            .max_retry_after(Duration::from_secs(5))
            .jitter(jitter)
            .max_elapsed(Duration::from_millis(budget_ms))
            .no_budget()
            .seed(seed);
        if let Some(t) = attempt_timeout_ms {
            builder = builder.attempt_timeout(Duration::from_millis(t));
        }
        let policy = builder.build().unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap();
        let calls = Arc::new(AtomicU32::new(0));
        let (elapsed, result) = runtime.block_on(async {
            let start = Instant::now();
            let result = policy
                .run(|| {
                    calls.fetch_add(1, Ordering::Relaxed);
                    async move {
                        tokio::time::sleep(Duration::from_millis(attempt_ms)).await;
                        let err = boom();
                        Err::<(), _>(match hint_ms {
                            Some(h) => err.with_retry_after(Duration::from_millis(h)),
                            None => err,
                        })
                    }
                })
                .await;
            (start.elapsed(), result)
        });
        let made = calls.load(Ordering::Relaxed);
        prop_assert!(made >= 1 && made <= max_attempts, "{made} attempts");
        prop_assert!(elapsed <= Duration::from_millis(budget_ms), "{elapsed:?}");
        let err = result.unwrap_err();
        prop_assert_eq!(err.attempts(), Some(made));
    }
}
