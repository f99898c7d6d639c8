//! Sliding windows of outcomes: the last N calls ([`CountWindow`]) or the last T of time
//! in buckets ([`TimeWindow`]). Both are lock-free and allocation-free per call.

use crate::sync::atomic::{AtomicI64, AtomicU8, AtomicU32, AtomicU64, Ordering::*};

/// What one recorded call contributes to a window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Outcome {
    pub(crate) failure: bool,
    pub(crate) slow: bool,
}

impl Outcome {
    /// The slot code: 0 is an empty slot.
    const fn code(self) -> u8 {
        1 + self.failure as u8 + 2 * self.slow as u8
    }
}

/// Sums over a window. `calls` counts every recorded call, `failures` and `slow` those
/// that failed or were slow (a slow failure counts in both).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Totals {
    pub(crate) calls: u32,
    pub(crate) failures: u32,
    pub(crate) slow: u32,
}

/// The largest count window: totals are three 21-bit signed fields of one `u64`. Its
/// slots take one byte each, so the largest count window holds about 1 MiB.
pub(crate) const MAX_COUNT_WINDOW: u32 = (1 << 20) - 1;

/// The most buckets of a time window: as much memory as the largest count window (a
/// bucket is 32 bytes, so 32 768 buckets are 1 MiB). Every recorded call also reads every
/// bucket, so a window this fine is slow as well as large.
pub(crate) const MAX_TIME_WINDOW_BUCKETS: u32 =
    ((MAX_COUNT_WINDOW as usize + 1) / std::mem::size_of::<Bucket>()) as u32;

const FIELD_BITS: u32 = 21;
const FIELD_MASK: u64 = (1 << FIELD_BITS) - 1;

/// The packed contribution of a slot code to the totals word.
const fn packed(code: u8) -> u64 {
    if code == 0 {
        return 0;
    }
    let c = code - 1;
    let failure = (c & 1) as u64;
    let slow = (c >> 1) as u64;
    1 | (failure << FIELD_BITS) | (slow << (2 * FIELD_BITS))
}

/// Sign-extends the low `bits` bits of `v`.
const fn sext(v: u64, bits: u32) -> i64 {
    let shift = 64 - bits;
    ((v << shift) as i64) >> shift
}

/// Reads three signed fields packed with wrapping arithmetic. A field may be briefly
/// negative while two threads race on one slot (one has subtracted an outcome the other
/// has not added yet); signed fields keep such a borrow from corrupting its neighbours,
/// and readers clamp it to zero.
fn decode(v: u64) -> Totals {
    let calls = sext(v & FIELD_MASK, FIELD_BITS);
    let rest = v.wrapping_sub(calls as u64) >> FIELD_BITS;
    let failures = sext(rest & FIELD_MASK, FIELD_BITS);
    let rest = rest.wrapping_sub(failures as u64) >> FIELD_BITS;
    let slow = sext(rest, 64 - 2 * FIELD_BITS);
    let clamp = |x: i64| x.max(0) as u32;
    Totals {
        calls: clamp(calls),
        failures: clamp(failures),
        slow: clamp(slow),
    }
}

/// The last `len` calls, as a ring of one-byte slots plus one packed totals word.
///
/// Recording claims the next slot (`fetch_add`), and swaps the new outcome in only when it
/// differs from the one it evicts, so the steady state of a healthy dependency (a success
/// replacing a success) costs one atomic read-modify-write and leaves the totals alone.
#[derive(Debug)]
pub(crate) struct CountWindow {
    slots: Box<[AtomicU8]>,
    next: AtomicU32,
    /// `u64::MAX / len + 1`: reduces the slot counter modulo `len` with a multiplication
    /// (Lemire's fastmod) instead of a division.
    magic: u64,
    totals: AtomicU64,
}

impl CountWindow {
    pub(crate) fn new(len: u32) -> Self {
        let len = len.clamp(1, MAX_COUNT_WINDOW);
        Self {
            slots: (0..len).map(|_| AtomicU8::new(0)).collect(),
            next: AtomicU32::new(0),
            magic: (u64::MAX / u64::from(len)).wrapping_add(1),
            totals: AtomicU64::new(0),
        }
    }

    #[inline]
    fn index(&self, n: u32) -> usize {
        let low = self.magic.wrapping_mul(u64::from(n));
        ((u128::from(low) * self.slots.len() as u128) >> 64) as usize
    }

    /// Records `outcome`; returns the new totals when they changed.
    #[inline]
    pub(crate) fn record(&self, outcome: Outcome) -> Option<Totals> {
        let n = self.next.fetch_add(1, Relaxed);
        let slot = &self.slots[self.index(n)];
        let code = outcome.code();
        if slot.load(Relaxed) == code {
            return None;
        }
        let old = slot.swap(code, Relaxed);
        if old == code {
            return None;
        }
        let delta = packed(code).wrapping_sub(packed(old));
        let before = self.totals.fetch_add(delta, Relaxed);
        Some(decode(before.wrapping_add(delta)))
    }

    pub(crate) fn totals(&self) -> Totals {
        decode(self.totals.load(Relaxed))
    }

    /// Whether every slot holds a success that was not slow (the window is full): the
    /// packed totals are then exactly `len` calls and nothing else.
    #[inline]
    pub(crate) fn holds_only_successes(&self) -> bool {
        self.totals.load(Relaxed) == self.slots.len() as u64
    }

    pub(crate) fn reset(&self) {
        for slot in self.slots.iter() {
            slot.store(0, Relaxed);
        }
        self.next.store(0, Relaxed);
        self.totals.store(0, Relaxed);
    }
}

/// Marks a bucket's stamp while the thread that claimed it for a new slice removes the
/// old slice's counts. Stamps are `tick + 1` of a nanosecond clock, far below this bit.
const RECYCLING: u64 = 1 << 63;

#[derive(Debug, Default)]
struct Bucket {
    /// `tick + 1` of the time slice this bucket holds; 0 means never used; with
    /// [`RECYCLING`] set while it is being emptied for that slice.
    stamp: AtomicU64,
    calls: AtomicI64,
    failures: AtomicI64,
    slow: AtomicI64,
}

impl Bucket {
    fn add(&self, outcome: Outcome, sign: i64) {
        self.calls.fetch_add(sign, Relaxed);
        if outcome.failure {
            self.failures.fetch_add(sign, Relaxed);
        }
        if outcome.slow {
            self.slow.fetch_add(sign, Relaxed);
        }
    }
}

/// The last `buckets × bucket_nanos` of time, in buckets that are recycled as time moves.
///
/// A bucket is recycled by the first call that lands in it in a new time slice: it
/// takes a snapshot of the old counts, claims the bucket for the new slice with a
/// compare-and-swap, and subtracts the snapshot, so calls recorded concurrently into the
/// new slice are kept. A call from the old slice that races with the recycling may be
/// counted in the new one; that is the only inexactness, at bucket boundaries. While a
/// bucket is being recycled its stamp carries [`RECYCLING`] and readers leave it out.
#[derive(Debug)]
pub(crate) struct TimeWindow {
    buckets: Box<[Bucket]>,
    bucket_nanos: u64,
}

impl TimeWindow {
    pub(crate) fn new(buckets: u32, bucket_nanos: u64) -> Self {
        Self {
            buckets: (0..buckets.max(1)).map(|_| Bucket::default()).collect(),
            bucket_nanos: bucket_nanos.max(1),
        }
    }

    /// Records `outcome` at `now` (nanoseconds since the breaker's clock base) and
    /// returns the window's totals.
    pub(crate) fn record(&self, outcome: Outcome, now: u64) -> Totals {
        let tick = now / self.bucket_nanos;
        let stamp = tick + 1;
        let bucket = &self.buckets[(tick % self.buckets.len() as u64) as usize];
        loop {
            let seen = bucket.stamp.load(Acquire);
            let slice = seen & !RECYCLING;
            if slice == stamp {
                // Also while the bucket is being recycled for this slice: the recycler
                // subtracts only its snapshot of the old counts, so this add is kept.
                bucket.add(outcome, 1);
                break;
            }
            if slice > stamp {
                // The bucket already holds a later slice: this outcome is out of the window.
                break;
            }
            if seen & RECYCLING != 0 {
                // Another thread is recycling it for an earlier slice than ours (it is a
                // whole window late); wait for it to finish, then recycle again.
                crate::sync::yield_now();
                continue;
            }
            let old = (
                bucket.calls.load(Relaxed),
                bucket.failures.load(Relaxed),
                bucket.slow.load(Relaxed),
            );
            // Claim the bucket with the RECYCLING mark: readers skip it (the mark puts the
            // stamp outside every window) until the old counts are gone, so they never see
            // the old slice's counts under the new slice's stamp.
            if bucket
                .stamp
                .compare_exchange(seen, stamp | RECYCLING, AcqRel, Acquire)
                .is_ok()
            {
                bucket.calls.fetch_sub(old.0, Relaxed);
                bucket.failures.fetch_sub(old.1, Relaxed);
                bucket.slow.fetch_sub(old.2, Relaxed);
                bucket.add(outcome, 1);
                // Only the claimer changes a marked stamp, so a plain store publishes it.
                bucket.stamp.store(stamp, Release);
                break;
            }
        }
        self.totals(now)
    }

    /// The totals of the buckets whose slice is inside the window ending at `now`.
    pub(crate) fn totals(&self, now: u64) -> Totals {
        let newest = now / self.bucket_nanos + 1;
        let oldest = newest.saturating_sub(self.buckets.len() as u64 - 1).max(1);
        let (mut calls, mut failures, mut slow) = (0_i64, 0_i64, 0_i64);
        for bucket in self.buckets.iter() {
            let stamp = bucket.stamp.load(Acquire);
            if (oldest..=newest).contains(&stamp) {
                calls += bucket.calls.load(Relaxed);
                failures += bucket.failures.load(Relaxed);
                slow += bucket.slow.load(Relaxed);
            }
        }
        let clamp = |x: i64| x.clamp(0, i64::from(u32::MAX)) as u32;
        Totals {
            calls: clamp(calls),
            failures: clamp(failures),
            slow: clamp(slow),
        }
    }

    pub(crate) fn reset(&self) {
        for bucket in self.buckets.iter() {
            bucket.stamp.store(0, Relaxed);
            bucket.calls.store(0, Relaxed);
            bucket.failures.store(0, Relaxed);
            bucket.slow.store(0, Relaxed);
        }
    }
}

/// Either window.
#[derive(Debug)]
pub(crate) enum Window {
    Count(CountWindow),
    Time(TimeWindow),
}

impl Window {
    pub(crate) fn totals(&self, now: impl FnOnce() -> u64) -> Totals {
        match self {
            Window::Count(w) => w.totals(),
            Window::Time(w) => w.totals(now()),
        }
    }

    pub(crate) fn reset(&self) {
        match self {
            Window::Count(w) => w.reset(),
            Window::Time(w) => w.reset(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OK: Outcome = Outcome {
        failure: false,
        slow: false,
    };
    const FAIL: Outcome = Outcome {
        failure: true,
        slow: false,
    };
    const SLOW_FAIL: Outcome = Outcome {
        failure: true,
        slow: true,
    };

    #[test]
    fn count_window_keeps_exactly_the_last_n_outcomes() {
        let w = CountWindow::new(3);
        assert_eq!(w.record(FAIL).unwrap().failures, 1);
        w.record(OK);
        w.record(SLOW_FAIL);
        assert_eq!(
            w.totals(),
            Totals {
                calls: 3,
                failures: 2,
                slow: 1
            }
        );
        // Evicts the first failure.
        w.record(OK);
        assert_eq!(w.totals().failures, 1);
        // A success replacing a success changes nothing.
        assert_eq!(w.record(OK), None);
        assert!(!w.holds_only_successes());
        w.record(OK);
        w.record(OK);
        assert!(w.holds_only_successes());
        w.record(FAIL);
        assert!(!w.holds_only_successes());
        let slow_ok = Outcome {
            failure: false,
            slow: true,
        };
        for _ in 0..3 {
            w.record(slow_ok);
        }
        assert!(
            !w.holds_only_successes(),
            "slow successes are not plain successes"
        );
        w.reset();
        assert_eq!(w.totals(), Totals::default());
    }

    #[test]
    fn fastmod_index_matches_the_remainder() {
        for len in [1_u32, 2, 3, 7, 100, 1000, MAX_COUNT_WINDOW] {
            let w = CountWindow::new(len);
            for n in (0..5000_u32).chain([u32::MAX - 3, u32::MAX]) {
                assert_eq!(w.index(n), (n % len) as usize, "len {len}, n {n}");
            }
        }
    }

    #[test]
    fn packed_totals_survive_transient_negative_fields() {
        let v = packed(1).wrapping_sub(packed(4)).wrapping_sub(packed(4));
        // calls 1 - 2 = -1, failures -2, slow -2: all clamp to zero, no borrow leaks.
        assert_eq!(decode(v), Totals::default());
        let v = v.wrapping_add(packed(4)).wrapping_add(packed(4));
        assert_eq!(
            decode(v),
            Totals {
                calls: 1,
                failures: 0,
                slow: 0
            }
        );
    }

    #[test]
    fn time_window_forgets_buckets_that_left_the_window() {
        let w = TimeWindow::new(4, 10);
        w.record(FAIL, 0);
        w.record(OK, 15);
        assert_eq!(w.totals(35).calls, 2);
        // At 40 the window is [10, 50): the bucket of time 0 has left it.
        assert_eq!(
            w.totals(40),
            Totals {
                calls: 1,
                failures: 0,
                slow: 0
            }
        );
        // Recycling bucket 0 for slice 4 drops its old count.
        let t = w.record(OK, 41);
        assert_eq!(t.calls, 2);
        assert_eq!(w.totals(1000), Totals::default());
    }

    /// A bucket being recycled must never show its old slice's counts under the new
    /// slice's stamp: one thread recycles a bucket full of stale failures while another
    /// reads the totals; before the fix the reader could see the failures (a false trip).
    #[test]
    fn recycling_a_bucket_never_exposes_its_old_counts() {
        use std::sync::atomic::AtomicBool;
        use std::sync::{Arc, Barrier};
        const ROUNDS: u64 = 20_000;
        let w = Arc::new(TimeWindow::new(2, 10));
        let barrier = Arc::new(Barrier::new(2));
        let recorded = Arc::new(AtomicBool::new(false));
        let reader = {
            let (w, barrier, recorded) = (Arc::clone(&w), Arc::clone(&barrier), recorded.clone());
            std::thread::spawn(move || {
                let mut worst = 0;
                for round in 1..=ROUNDS {
                    let now = round * 20;
                    barrier.wait();
                    // Read until the writer has recorded, and a little after.
                    while !recorded.load(Acquire) {
                        worst = worst.max(w.totals(now).failures);
                    }
                    worst = worst.max(w.totals(now).failures);
                    barrier.wait();
                }
                worst
            })
        };
        for round in 1..=ROUNDS {
            let now = round * 20;
            // Bucket 0 holds a full slice of failures from long ago (out of the window).
            let b = &w.buckets[0];
            b.stamp.store(1, Release);
            b.calls.store(1000, Relaxed);
            b.failures.store(1000, Relaxed);
            b.slow.store(0, Relaxed);
            w.buckets[1].stamp.store(0, Release);
            recorded.store(false, Release);
            barrier.wait();
            let t = w.record(OK, now);
            recorded.store(true, Release);
            assert_eq!((t.calls, t.failures), (1, 0));
            barrier.wait();
        }
        assert_eq!(
            reader.join().unwrap(),
            0,
            "saw a recycled bucket's old failures"
        );
    }
}
