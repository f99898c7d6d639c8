//! [`Latencies`]: a sliding window of attempt latencies, lock-free, for the hedging delay
//! "the p-th percentile of recent attempts".
//!
//! # How it counts
//!
//! A latency falls in one of [`BUCKETS`] log-linear buckets: everything under 1 µs in the
//! first, then four buckets per power of two up to about 275 s (so a bucket is at most 25%
//! wider than its lower bound), everything above in the last. The window is [`SLOTS`]
//! time slots of `window / SLOTS` each; a sample lands in the slot of its epoch, and a
//! slot whose epoch has passed out of the window is recycled (zeroed) by the first sample
//! of the new epoch that lands in it. Recording is one `fetch_add`, plus one
//! compare-and-swap when a slot is recycled: no lock, no allocation. Each slot keeps its
//! counts once per stripe (see `sync::stripe`) and a thread adds to its own, so that
//! threads recording at once do not contend for one cache line; a read sums them.
//!
//! A percentile is read by summing the slots of the window (every bucket of every slot
//! and stripe: about 4,500 relaxed loads)
//! and answers the **upper** bound of the bucket holding it: never below the true
//! percentile, at most 25% above. It is cached per epoch, so the sum is made at most
//! once per slot duration once there are enough samples.
//!
//! Recycling is not atomic with concurrent samples: one that lands in a slot while it is
//! being zeroed may be lost. Samples are a statistic, not an account; losing a few at a
//! slot boundary moves no percentile measurably.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::Acquire, Ordering::Relaxed};
use std::time::Duration;

use tokio::time::Instant;

use crate::sync::{STRIPES, stripe};

/// Samples under this many nanoseconds (1 µs) share the first bucket.
const MIN_SHIFT: u32 = 10;
/// The highest power of two with buckets of its own: 2^37 ns ≈ 137 s, so the last
/// bucket starts at 2^38 ns ≈ 275 s.
const MAX_OCTAVE: u32 = 37;
/// Buckets per power of two.
const SUB: u32 = 4;
/// Every bucket: the first (under 1 µs), four per power of two, the last (overflow).
pub(crate) const BUCKETS: usize = 1 + ((MAX_OCTAVE - MIN_SHIFT + 1) * SUB) as usize + 1;
/// Time slots per window.
pub(crate) const SLOTS: usize = 10;

/// The bucket of a latency of `nanos`.
#[inline]
fn bucket(nanos: u64) -> usize {
    if nanos < 1 << MIN_SHIFT {
        return 0;
    }
    let octave = 63 - nanos.leading_zeros();
    if octave > MAX_OCTAVE {
        return BUCKETS - 1;
    }
    let sub = (nanos >> (octave - 2)) & u64::from(SUB - 1);
    1 + ((octave - MIN_SHIFT) * SUB) as usize + sub as usize
}

/// The smallest latency above every sample of bucket `b`.
fn upper_bound(b: usize) -> Duration {
    if b == 0 {
        return Duration::from_nanos(1 << MIN_SHIFT);
    }
    if b >= BUCKETS - 1 {
        return Duration::from_nanos(1 << (MAX_OCTAVE + 1));
    }
    let i = (b - 1) as u32;
    let octave = MIN_SHIFT + i / SUB;
    let sub = u64::from(i % SUB);
    Duration::from_nanos((u64::from(SUB) + sub + 1) << (octave - 2))
}

/// One stripe's counts of a slot, per bucket, on cache lines of its own (128 bytes: the
/// processor may fetch lines in pairs): a thread adding to its stripe never takes a line
/// another thread reads or writes.
#[repr(align(128))]
struct Counts([AtomicU32; BUCKETS]);

struct Slot {
    /// The epoch this slot counts for: read by every sample, written once per recycle,
    /// so it has its line to itself (the counts are aligned past it).
    epoch: AtomicU64,
    /// The counts per bucket, once per stripe.
    counts: [Counts; STRIPES],
}

impl Slot {
    /// Every count of the slot, all stripes.
    fn all_counts(&self) -> impl Iterator<Item = &AtomicU32> {
        self.counts.iter().flat_map(|stripe| &stripe.0)
    }
}

/// Attempt latencies over a sliding window; see the [module docs](self).
pub(crate) struct Latencies {
    created: Instant,
    slot_nanos: u128,
    /// The newest epoch any caller has seen: where samples taken without a clock read land.
    newest: AtomicU64,
    /// The last percentile computed: the low 20 bits of `epoch + 1`, then the 12 of the
    /// settings' generation it was computed for, then 32 of micros; 0 when none.
    cached: AtomicU64,
    /// Counts the settings (quantile, minimum) that ask this window: see
    /// [`next_generation`](Self::next_generation).
    generations: AtomicU32,
    slots: Box<[Slot]>,
}

impl Latencies {
    /// An empty window of `window`, starting now.
    pub(crate) fn new(window: Duration) -> Self {
        Self {
            created: Instant::now(),
            slot_nanos: (window.as_nanos() / SLOTS as u128).max(1),
            newest: AtomicU64::new(0),
            cached: AtomicU64::new(0),
            generations: AtomicU32::new(0),
            // Slot `i` starts as epoch `i`'s, empty: nothing to recycle at first.
            slots: (0..SLOTS as u64)
                .map(|epoch| Slot {
                    epoch: AtomicU64::new(epoch),
                    counts: std::array::from_fn(|_| {
                        Counts(std::array::from_fn(|_| AtomicU32::new(0)))
                    }),
                })
                .collect(),
        }
    }

    /// The epoch of `now`, also recorded as the newest seen. Written only when the epoch
    /// moves on (once per slot duration): a write on every call would take the line from
    /// every other thread reading it.
    fn epoch(&self, now: Instant) -> u64 {
        let since = now.saturating_duration_since(self.created);
        let epoch = u64::try_from(since.as_nanos() / self.slot_nanos).unwrap_or(u64::MAX);
        let newest = self.newest.load(Relaxed);
        if epoch <= newest {
            return newest;
        }
        self.newest.fetch_max(epoch, Relaxed).max(epoch)
    }

    /// Records an attempt that took `latency`, observed at `now`.
    #[inline]
    pub(crate) fn record(&self, latency: Duration, now: Instant) {
        let nanos = crate::durations::nanos(latency);
        self.add(self.epoch(now), bucket(nanos));
    }

    /// Records an attempt that completed at once (on its first poll): a latency under
    /// 1 µs, counted in the newest epoch seen, without reading the clock.
    #[inline]
    pub(crate) fn record_instant(&self) {
        self.add(self.newest.load(Relaxed), 0);
    }

    fn add(&self, epoch: u64, bucket: usize) {
        let slot = &self.slots[(epoch % SLOTS as u64) as usize];
        let held = slot.epoch.load(Acquire);
        if held != epoch {
            if held > epoch {
                // A sample of an epoch already recycled: too old to count.
                return;
            }
            if slot
                .epoch
                .compare_exchange(held, epoch, Relaxed, Relaxed)
                .is_ok()
            {
                for count in slot.all_counts() {
                    count.store(0, Relaxed);
                }
            }
        }
        slot.counts[stripe()].0[bucket].fetch_add(1, Relaxed);
    }

    /// The `quantile` (in `(0, 1]`) of the window's latencies, as the upper bound of its
    /// bucket; `None` while the window holds fewer than `min_samples`.
    ///
    /// `generation` is the one [`next_generation`](Self::next_generation) gave the
    /// settings asking: a value cached for other settings (computed by a call that read
    /// them before a reconfiguration, and stored after it) is not served.
    pub(crate) fn percentile(
        &self,
        quantile: f64,
        min_samples: u32,
        now: Instant,
        generation: u32,
    ) -> Option<Duration> {
        let epoch = self.epoch(now);
        let tag = (epoch.wrapping_add(1) & 0xf_ffff) << 12 | u64::from(generation & 0xfff);
        let cached = self.cached.load(Relaxed);
        if cached != 0 && cached >> 32 == tag {
            return Some(Duration::from_micros(cached & 0xffff_ffff));
        }
        let found = self.compute(quantile, min_samples, epoch)?;
        let micros = u64::try_from(found.as_micros())
            .unwrap_or(u64::MAX)
            .min(0xffff_ffff);
        self.cached.store(tag << 32 | micros, Relaxed);
        Some(Duration::from_micros(micros))
    }

    /// A generation for new settings asking this window (a reconfiguration that keeps
    /// it): what they cache is theirs only.
    pub(crate) fn next_generation(&self) -> u32 {
        self.generations.fetch_add(1, Relaxed).wrapping_add(1)
    }

    fn compute(&self, quantile: f64, min_samples: u32, epoch: u64) -> Option<Duration> {
        let mut counts = [0_u64; BUCKETS];
        for slot in self.slots.iter() {
            let held = slot.epoch.load(Acquire);
            if held > epoch || epoch - held >= SLOTS as u64 {
                continue;
            }
            for stripe in &slot.counts {
                for (total, count) in counts.iter_mut().zip(&stripe.0) {
                    *total += u64::from(count.load(Relaxed));
                }
            }
        }
        let total: u64 = counts.iter().sum();
        if total == 0 || total < u64::from(min_samples) {
            return None;
        }
        // The smallest bucket with at least `quantile` of the samples at or below it.
        let rank = ((quantile * total as f64).ceil() as u64).clamp(1, total);
        let mut seen = 0;
        for (b, count) in counts.iter().enumerate() {
            seen += count;
            if seen >= rank {
                return Some(upper_bound(b));
            }
        }
        Some(upper_bound(BUCKETS - 1))
    }

    /// Samples in the window now.
    pub(crate) fn samples(&self, now: Instant) -> u64 {
        let epoch = self.epoch(now);
        self.slots
            .iter()
            .filter(|slot| {
                let held = slot.epoch.load(Acquire);
                held <= epoch && epoch - held < SLOTS as u64
            })
            .flat_map(Slot::all_counts)
            .map(|count| u64::from(count.load(Relaxed)))
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_ordered_and_bound_their_samples_within_a_quarter() {
        let mut last = 0;
        for nanos in [
            0,
            1,
            1023,
            1024,
            1500,
            9_999,
            10_000_000,
            1 << 37,
            (1 << 38) - 1,
        ] {
            let b = bucket(nanos);
            assert!(b >= last, "{nanos}");
            last = b;
            let upper = upper_bound(b).as_nanos() as u64;
            assert!(upper > nanos, "{nanos} < {upper}");
            if nanos >= 1024 {
                assert!(
                    upper as f64 <= nanos as f64 * 1.25 + 1.0,
                    "{nanos} -> {upper}"
                );
            }
        }
        assert_eq!(bucket(1 << 38), BUCKETS - 1);
        assert_eq!(bucket(u64::MAX), BUCKETS - 1);
        // Each bucket starts where the one before ends.
        for b in 1..BUCKETS {
            let start = upper_bound(b - 1).as_nanos() as u64;
            assert_eq!(bucket(start), b, "bucket {b} starts at {start}");
            assert_eq!(bucket(start - 1), b - 1);
        }
    }

    #[test]
    fn samples_recorded_by_many_threads_at_once_are_all_counted() {
        let l = std::sync::Arc::new(Latencies::new(Duration::from_secs(60)));
        let threads: Vec<_> = (0..8)
            .map(|i| {
                let l = l.clone();
                std::thread::spawn(move || {
                    for _ in 0..1000 {
                        if i % 2 == 0 {
                            l.record_instant();
                        } else {
                            l.record(Duration::from_millis(5), Instant::now());
                        }
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(l.samples(Instant::now()), 8000);
        // Half under 1 µs, half at 5 ms: the median is the first bucket's bound.
        let p50 = l.compute(0.5, 1, l.epoch(Instant::now())).unwrap();
        assert_eq!(p50, upper_bound(0));
        let p90 = l.compute(0.9, 1, l.epoch(Instant::now())).unwrap();
        assert!(p90 > Duration::from_millis(5) && p90 <= Duration::from_micros(6_250));
    }

    #[test]
    fn each_stripe_counts_on_lines_of_its_own_apart_from_the_epoch_every_sample_reads() {
        let l = Latencies::new(Duration::from_secs(10));
        let address = |r: &AtomicU32| std::ptr::from_ref(r) as usize;
        for slot in l.slots.iter() {
            let epoch = std::ptr::from_ref(&slot.epoch) as usize;
            let mut lines = vec![epoch / 128];
            for stripe in &slot.counts {
                let (first, last) = (address(&stripe.0[0]), address(&stripe.0[BUCKETS - 1]));
                assert_eq!(first % 128, 0, "a stripe starts a line pair");
                lines.extend(first / 128..=last / 128);
            }
            let distinct: std::collections::HashSet<_> = lines.iter().collect();
            assert_eq!(distinct.len(), lines.len(), "no 128-byte line is shared");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn the_newest_epoch_only_moves_forward_whatever_instant_a_sample_brings() {
        let l = Latencies::new(Duration::from_secs(10));
        let start = Instant::now();
        tokio::time::advance(Duration::from_millis(3_500)).await;
        let later = Instant::now();
        assert_eq!(l.epoch(later), 3, "one-second slots: 3.5 s is epoch 3");
        assert_eq!(l.newest.load(Relaxed), 3);
        // An older instant (a sample that started earlier) still answers the newest.
        assert_eq!(l.epoch(start), 3);
        assert_eq!(l.newest.load(Relaxed), 3);
        // An instant sample lands in the newest epoch, without a clock read.
        l.record_instant();
        assert_eq!(l.samples(later), 1);
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(l.epoch(Instant::now()), 4);
        assert_eq!(l.newest.load(Relaxed), 4);
    }

    #[tokio::test(start_paused = true)]
    async fn the_percentile_is_the_upper_bound_of_its_bucket_after_enough_samples() {
        let l = Latencies::new(Duration::from_secs(10));
        let now = Instant::now();
        for i in 0..100 {
            let ms = if i < 95 { 10 } else { 1_000 };
            l.record(Duration::from_millis(ms), now);
        }
        assert_eq!(l.percentile(0.95, 101, now, 0), None, "too few samples");
        let p95 = l.percentile(0.95, 100, now, 0).unwrap();
        assert!(p95 > Duration::from_millis(10) && p95 <= Duration::from_micros(12_500));
        let p99 = l.compute(0.99, 1, l.epoch(now)).unwrap();
        assert!(p99 > Duration::from_secs(1) && p99 <= Duration::from_millis(1250));
    }

    #[tokio::test(start_paused = true)]
    async fn a_percentile_cached_for_other_settings_is_not_served() {
        let l = Latencies::new(Duration::from_secs(10));
        let now = Instant::now();
        for i in 0..100 {
            let ms = if i < 95 { 10 } else { 1_000 };
            l.record(Duration::from_millis(ms), now);
        }
        let (old, new) = (l.next_generation(), l.next_generation());
        let p99 = l.percentile(0.99, 1, now, new).unwrap();
        // A call that read the old settings (the median) stores its value after the
        // reconfiguration, in the same epoch.
        let p50 = l.percentile(0.5, 1, now, old).unwrap();
        assert!(p50 < p99);
        assert_eq!(
            l.percentile(0.99, 1, now, new),
            Some(p99),
            "recomputed, not p50"
        );
        assert_eq!(
            l.percentile(0.99, 1, now, new),
            Some(p99),
            "and cached again"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn samples_leave_the_window_after_it_has_passed() {
        let window = Duration::from_secs(10);
        let l = Latencies::new(window);
        l.record(Duration::from_millis(5), Instant::now());
        l.record_instant();
        assert_eq!(l.samples(Instant::now()), 2);
        tokio::time::advance(window - Duration::from_secs(1)).await;
        assert_eq!(l.samples(Instant::now()), 2, "still in the window");
        tokio::time::advance(Duration::from_secs(2)).await;
        assert_eq!(l.samples(Instant::now()), 0, "out of the window");
        // A recycled slot counts only its new epoch's samples.
        l.record(Duration::from_millis(5), Instant::now());
        assert_eq!(l.samples(Instant::now()), 1);
    }
}
