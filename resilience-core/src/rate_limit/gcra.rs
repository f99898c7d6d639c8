//! The generic cell rate algorithm, in integer nanoseconds: the one place its arithmetic is
//! written (the Redis script mirrors it in Lua, in microseconds).
//!
//! # The algorithm
//!
//! A limit of `rate` units per second with a `burst` is two numbers: the emission
//! `interval` (`1 / rate`) and the `tolerance` (`burst × interval`). A limit keeps one
//! number per key, the *theoretical arrival time* (TAT): when the bucket would be full
//! again if nothing more arrived. A request for `n` units at time `now` would move it to
//! `max(TAT, now) + n × interval`; it conforms when that is at most `tolerance` ahead of
//! `now`. So an idle key (`TAT ≤ now`) admits `burst` units at once, and then one more per
//! `interval`: over any window of length `w`, at most `burst + w / interval` units.
//!
//! A TAT that is not ahead of `now` carries no information (the bucket is full), which is
//! why a keyed limit can forget such keys without changing any decision.
//!
//! # Waiting
//!
//! A request allowed to wait up to `max_wait` *reserves* its place: when it would conform
//! within `max_wait`, the TAT moves now and the caller sleeps until its turn. One atomic
//! step decides and books, so waiters are served in the order they asked and a wake-up
//! never races another caller for the same unit.

use std::sync::atomic::{AtomicU64, Ordering};

/// The two numbers of a limit, in nanoseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Gcra {
    /// Nanoseconds per unit: `1 / rate`.
    pub(crate) interval: u64,
    /// `burst × interval`: how far ahead of now the TAT may run.
    pub(crate) tolerance: u64,
}

/// What [`Gcra::decide`] says about one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Admitted: the TAT becomes `tat`. `wait` is 0 when admitted at once, else how long
    /// the caller must wait for its reserved turn.
    Conform { tat: u64, wait: u64 },
    /// Refused: the request would conform in `retry_after` (at least 1 ns), longer than the
    /// caller may wait; the TAT stays `backlog` ahead of now. Nothing changes.
    Refuse { retry_after: u64, backlog: u64 },
}

impl Gcra {
    /// The cost of `n` units, or `None` when `n` is more than the burst: such a request can
    /// never conform.
    #[inline]
    pub(crate) fn cost(self, n: u32) -> Option<u64> {
        let cost = u64::from(n).checked_mul(self.interval)?;
        (n > 0 && cost <= self.tolerance).then_some(cost)
    }

    /// The verdict for a request of `cost` at `now` against `tat`, waiting at most
    /// `max_wait`. All in nanoseconds on one clock.
    #[inline]
    pub(crate) fn decide(self, tat: u64, now: u64, cost: u64, max_wait: u64) -> Verdict {
        let backlog = tat.saturating_sub(now);
        let tat = tat.max(now).saturating_add(cost);
        let earliest = tat.saturating_sub(self.tolerance);
        if earliest <= now {
            return Verdict::Conform { tat, wait: 0 };
        }
        let wait = earliest - now;
        if wait <= max_wait {
            Verdict::Conform { tat, wait }
        } else {
            Verdict::Refuse {
                retry_after: wait,
                backlog,
            }
        }
    }

    /// Decides and books atomically on `cell`: one load and one compare-and-swap when
    /// uncontended, and a refusal writes nothing.
    #[inline]
    pub(crate) fn take(self, cell: &AtomicU64, now: u64, cost: u64, max_wait: u64) -> Verdict {
        // Relaxed is enough: the TAT is the only data, and compare-and-swap on one word is
        // totally ordered whatever the ordering argument.
        let mut current = cell.load(Ordering::Relaxed);
        loop {
            let verdict = self.decide(current, now, cost, max_wait);
            let Verdict::Conform { tat, .. } = verdict else {
                return verdict;
            };
            match cell.compare_exchange_weak(current, tat, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => return verdict,
                Err(actual) => current = actual,
            }
        }
    }

    /// Whole units left after a request that left the TAT `backlog` ahead of now.
    #[inline]
    pub(crate) fn remaining(self, backlog: u64) -> u64 {
        self.tolerance.saturating_sub(backlog) / self.interval
    }

    /// The longest a request for one unit would wait, `retry_after` being the wait for `n`.
    #[cfg_attr(not(feature = "redis"), allow(dead_code))] // Used by the Redis limiter.
    pub(crate) fn retry_after_one(self, retry_after: u64, n: u32) -> u64 {
        retry_after.saturating_sub(u64::from(n.saturating_sub(1)) * self.interval)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const G: Gcra = Gcra {
        interval: 10,
        tolerance: 30,
    };

    #[test]
    fn an_idle_key_admits_the_burst_at_once_then_one_unit_per_interval() {
        let mut tat = 0;
        for _ in 0..3 {
            match G.decide(tat, 100, 10, 0) {
                Verdict::Conform { tat: next, wait: 0 } => tat = next,
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(tat, 130);
        assert_eq!(
            G.decide(tat, 100, 10, 0),
            Verdict::Refuse {
                retry_after: 10,
                backlog: 30
            }
        );
        assert_eq!(
            G.decide(tat, 110, 10, 0),
            Verdict::Conform { tat: 140, wait: 0 }
        );
    }

    #[test]
    fn a_wait_within_max_wait_reserves_the_turn() {
        assert_eq!(
            G.decide(130, 100, 20, 15),
            Verdict::Refuse {
                retry_after: 20,
                backlog: 30
            }
        );
        assert_eq!(
            G.decide(130, 100, 20, 20),
            Verdict::Conform { tat: 150, wait: 20 }
        );
    }

    #[test]
    fn costs_beyond_the_burst_or_zero_are_refused_up_front() {
        assert_eq!(G.cost(3), Some(30));
        assert_eq!(G.cost(4), None);
        assert_eq!(G.cost(0), None);
        assert_eq!(G.remaining(0), 3);
        assert_eq!(G.remaining(25), 0);
        assert_eq!(G.remaining(40), 0);
        assert_eq!(G.retry_after_one(25, 2), 15);
    }

    #[test]
    fn take_books_only_what_conforms() {
        let cell = AtomicU64::new(0);
        assert!(matches!(G.take(&cell, 5, 30, 0), Verdict::Conform { .. }));
        assert_eq!(cell.load(Ordering::Relaxed), 35);
        assert_eq!(
            G.take(&cell, 5, 10, 0),
            Verdict::Refuse {
                retry_after: 10,
                backlog: 30
            }
        );
        assert_eq!(cell.load(Ordering::Relaxed), 35);
    }
}
