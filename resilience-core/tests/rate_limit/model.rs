//! The limiter against a simple model, under paused time: a token bucket holding
//! "credit" in nanoseconds (a different formulation from the limiter's single timestamp),
//! and the bound every rate limit promises: over any window `w`, at most
//! `burst + w / interval` units.

use std::time::Duration;

use proptest::prelude::*;
use resilience_core::ErrorKind;
use resilience_core::rate_limit::RateLimiter;
use tokio::time::Instant;

/// A token bucket: `credit` nanoseconds of allowance, at most `tolerance`, refilled one
/// nanosecond per nanosecond; a unit costs `interval`. Callers allowed to wait may take it
/// below zero (a booked turn) and wait until it is back at zero.
#[derive(Debug)]
struct Bucket {
    interval: i128,
    tolerance: i128,
    credit: i128,
}

#[derive(Debug, PartialEq, Eq)]
enum Expect {
    Admit { remaining: u64 },
    Wait { wait: u64 },
    Refuse { retry_after: u64 },
    Never,
}

impl Bucket {
    fn new(interval: u64, burst: u32) -> Self {
        let tolerance = i128::from(interval) * i128::from(burst);
        Self {
            interval: interval.into(),
            tolerance,
            credit: tolerance,
        }
    }

    fn advance(&mut self, ns: u64) {
        self.credit = (self.credit + i128::from(ns)).min(self.tolerance);
    }

    fn request(&mut self, n: u32, max_wait: u64) -> Expect {
        let cost = self.interval * i128::from(n);
        if n == 0 || cost > self.tolerance {
            return Expect::Never;
        }
        let deficit = cost - self.credit;
        if deficit <= 0 {
            self.credit -= cost;
            Expect::Admit {
                remaining: (self.credit / self.interval) as u64,
            }
        } else if deficit <= i128::from(max_wait) {
            self.credit -= cost;
            Expect::Wait {
                wait: deficit as u64,
            }
        } else {
            Expect::Refuse {
                retry_after: deficit as u64,
            }
        }
    }
}

#[derive(Debug, Clone)]
enum Op {
    Advance(u64),
    Try(u32),
    /// Acquire with a `max_wait`; a waiting caller is awaited.
    Wait(u32),
    /// Acquire with a `max_wait`; a waiting caller is dropped at once (its turn returns).
    Abandon(u32),
}

const INTERVAL: u64 = 7_000_000; // 7 ms: turns fall between the timer's 1 ms ticks
const MAX_WAIT: u64 = 3 * INTERVAL;

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0..3 * INTERVAL).prop_map(Op::Advance),
        4 => (0_u32..6).prop_map(Op::Try),
        2 => (1_u32..4).prop_map(Op::Wait),
        1 => (1_u32..4).prop_map(Op::Abandon),
    ]
}

/// One unit per `INTERVAL`, `burst` at once, waits up to `MAX_WAIT`; built under the
/// paused clock (call it inside `paused().block_on`).
fn limiter(burst: u32) -> RateLimiter {
    RateLimiter::builder()
        .rate(1e9 / INTERVAL as f64)
        .burst(burst)
        .max_wait(Duration::from_nanos(MAX_WAIT))
        .build()
        .unwrap()
}

fn paused() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap()
}

fn ns(d: Duration) -> u64 {
    d.as_nanos() as u64
}

/// Checks one outcome against the model's expectation.
fn check(
    expect: &Expect,
    outcome: &Result<resilience_core::rate_limit::Grant, resilience_core::Error>,
) {
    match (expect, outcome) {
        (Expect::Admit { remaining }, Ok(grant)) => assert_eq!(grant.remaining(), *remaining),
        (Expect::Refuse { retry_after }, Err(err)) => {
            assert_eq!(err.kind(), ErrorKind::RateLimited);
            assert_eq!(err.retry_after().map(ns), Some(*retry_after));
        }
        (Expect::Never, Err(err)) => {
            assert_eq!(err.kind(), ErrorKind::RateLimited);
            assert_eq!(err.retry_after(), None);
        }
        (expect, outcome) => panic!("model expected {expect:?}, limiter gave {outcome:?}"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn the_limiter_decides_exactly_as_the_token_bucket_model(
        burst in 1_u32..5,
        ops in prop::collection::vec(op(), 1..60),
    ) {
        paused().block_on(async {
            let limiter = limiter(burst);
            let mut model = Bucket::new(INTERVAL, burst);
            for op in ops {
                match op {
                    Op::Advance(dt) => {
                        tokio::time::advance(Duration::from_nanos(dt)).await;
                        model.advance(dt);
                    }
                    Op::Try(n) => {
                        let expect = model.request(n, 0);
                        check(&expect, &limiter.try_acquire_n(n));
                    }
                    Op::Wait(n) | Op::Abandon(n) => {
                        let expect = model.request(n, MAX_WAIT);
                        let acquire = limiter.acquire_n(n);
                        let Expect::Wait { wait } = expect else {
                            check(&expect, &acquire.await);
                            continue;
                        };
                        assert!(acquire.is_pending(), "the model says it waits {wait} ns");
                        if matches!(op, Op::Abandon(_)) {
                            drop(acquire);
                            model.credit += model.interval * i128::from(n);
                            continue;
                        }
                        let start = Instant::now();
                        let grant = acquire.await.unwrap();
                        // The timer fires on a 1 ms tick, never before the turn.
                        let waited = ns(start.elapsed());
                        assert!(waited >= wait, "admitted {waited} ns in, turn at {wait} ns");
                        assert!(waited < wait + 2_000_000, "{waited} vs {wait}");
                        assert_eq!(grant.waited(), start.elapsed());
                        model.advance(waited);
                    }
                }
            }
        });
    }

    /// Arrivals on whole milliseconds, so that a waiter's turn falls on a timer tick and
    /// the time it is admitted is its turn (the timer fires on 1 ms ticks; a turn between
    /// ticks is admitted up to 1 ms late, which the model test above accounts for).
    #[test]
    fn no_window_ever_admits_more_than_burst_plus_rate_times_window(
        burst in 1_u32..8,
        arrivals in prop::collection::vec((0_u64..15, 1_u32..4, any::<bool>()), 1..120),
    ) {
        paused().block_on(async {
            let limiter = limiter(burst);
            let origin = Instant::now();
            let mut admitted: Vec<(u64, u64)> = Vec::new();
            for (gap, n, wait) in arrivals {
                tokio::time::advance(Duration::from_millis(gap)).await;
                let outcome = if wait {
                    limiter.acquire_n(n).await
                } else {
                    limiter.try_acquire_n(n)
                };
                if outcome.is_ok() {
                    admitted.push((ns(origin.elapsed()), u64::from(n)));
                }
            }
            let quota = limiter.quota();
            for (i, &(start, _)) in admitted.iter().enumerate() {
                let mut units = 0;
                for &(at, n) in &admitted[i..] {
                    units += n;
                    let bound = quota.max_admitted(Duration::from_nanos(at - start));
                    assert!(
                        units <= bound,
                        "{units} units in {} ns, bound {bound}",
                        at - start
                    );
                }
            }
        });
    }
}
