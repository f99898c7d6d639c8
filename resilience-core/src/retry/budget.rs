//! [`RetryBudget`]: a cap on retries as a share of traffic, shared by every call that
//! holds it (the Finagle model, as tower's `TpsBudget`).
//!
//! # Why a budget, not just `max_attempts`
//!
//! `max_attempts = 3` bounds one call, not the dependency's load: when the dependency is
//! down, every call makes three attempts and the dependency sees three times its usual
//! traffic exactly when it can least take it. A budget bounds the *sum*: each call
//! deposits `ratio` of a retry, each retry withdraws a whole one, and a floor of
//! `min_per_sec` retries per second keeps low-traffic services able to retry at all. With
//! the defaults (20% + 10/s over 10 s, as Finagle) a failing dependency sees at most
//! 1.2× its traffic plus 10 requests per second, whatever `max_attempts` says.
//!
//! # How it counts
//!
//! Balances are fixed-point integers (one retry = 10 000 units), so fractional
//! percentages are exact to 0.01%: `ratio(0.6)` allows 6 retries per 10 calls, not 10
//! (tower's `TpsBudget` rounds the cost of a retry down and allows 10; tower issue #857).
//! Deposits and withdrawals land in ten time slots covering `ttl`; a slot is recycled
//! when its time has passed, so both expire after `ttl`.
//!
//! A deposit is one `fetch_add` on the current slot, other updates a compare-and-swap:
//! no lock anywhere. The slots are kept once per stripe (see `sync::stripe`), each
//! stripe on cache lines of its own, and a thread writes its own stripe: threads
//! depositing at once do not take one cache line from each other on every call. A
//! balance is the sum of every stripe's slots. A withdrawal
//! takes first and checks after, giving the retry back if the balance went negative, so
//! concurrent withdrawals can never overdraw the budget (they may, rarely, both be
//! refused when one could have succeeded). Deposits, on the success path, do not read the
//! clock: they land in the newest slot any caller has seen, and the clock is read on
//! every withdrawal and on every 16th deposit of a thread. A deposit stamped late expires
//! early, so the error only ever errs towards fewer retries.

use crate::sync::atomic::{AtomicI64, AtomicU32, AtomicU64, Ordering::Relaxed, Ordering::SeqCst};
use std::cell::Cell;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use crate::config::check;
use crate::sync::{STRIPES, stripe};
use crate::{ConfigError, Primitive};

/// One retry, in budget units: ratios are exact to 1 / `UNIT`.
const UNIT: i64 = 10_000;
/// Time slots per `ttl`.
const SLOTS: u64 = 10;
/// Slot words: a 32-bit epoch tag above a 32-bit offset balance.
///
/// The tag must not wrap within any idle period a service may see: a slot's tag is
/// compared with the current epoch modulo 2^32, so a slot last written 2^31 epochs ago
/// (at the shortest `ttl`, 100 ms slots: 6.8 years) would look newer. A 20-bit tag
/// wrapped after 14.5 hours of idleness (ttl 1 s) and then refused or granted retries
/// at random. A slot's balance saturates at ±2^31 units (about ±214 000 retries), far
/// above any real window, and only ever errs towards fewer retries.
const VALUE_BITS: u32 = 32;
const TAG_MASK: u64 = (1 << (64 - VALUE_BITS)) - 1;
const OFFSET: i64 = 1 << (VALUE_BITS - 1);
/// The fast path's `fetch_add` is taken only below this balance, so that concurrent
/// unchecked adds (at most `10 * UNIT` each) can never carry into the tag.
const FAST_LIMIT: i64 = OFFSET / 2;
/// The clock is read on every `CLOCK_EVERY`th deposit of a thread.
const CLOCK_EVERY: u32 = 16;

#[cfg(not(loom))]
thread_local! {
    static DEPOSITS: Cell<u32> = const { Cell::new(0) };
}
// Per loom thread, so that a model is deterministic.
#[cfg(loom)]
loom::thread_local! {
    static DEPOSITS: Cell<u32> = Cell::new(0);
}

/// A retry budget: at most `ratio` of calls plus `min_per_sec` retries per second,
/// over a sliding window of `ttl`.
///
/// ```
/// use std::time::Duration;
/// use resilience_core::retry::RetryBudget;
///
/// let budget = RetryBudget::builder()
///     .ttl(Duration::from_secs(10))
///     .min_per_sec(0)
///     .ratio(0.6)
///     .build()
///     .unwrap();
/// for _ in 0..10 {
///     budget.deposit();
/// }
/// let granted = (0..10).filter(|_| budget.try_withdraw()).count();
/// assert_eq!(granted, 6);
/// ```
///
/// # Clone
///
/// Clones share one budget (an `Arc`): give the same budget to every policy and layer
/// that calls the same dependency.
#[derive(Clone)]
pub struct RetryBudget {
    state: Arc<State>,
}

struct State {
    created: Instant,
    slot_nanos: u128,
    /// `reserve`, `deposit`, `min_per_sec` and `ratio` are atomics so that
    /// [`RetryBudget::reconfigure`] can move them; `ratio` holds the bits of an `f64`.
    reserve: AtomicI64,
    deposit: AtomicI64,
    ttl: Duration,
    min_per_sec: AtomicU32,
    ratio: AtomicU64,
    /// The newest epoch any caller has seen.
    epoch: AtomicU64,
    /// The time slots, once per stripe.
    stripes: [Slots; STRIPES],
}

/// One stripe's time slots, alone on its cache lines (128 bytes: adjacent lines are
/// fetched in pairs on x86).
#[repr(align(128))]
struct Slots([AtomicU64; SLOTS as usize]);

/// Builds a [`RetryBudget`]; see [`RetryBudget::builder`].
#[derive(Clone, Debug)]
#[must_use]
pub struct RetryBudgetBuilder {
    ttl: Duration,
    min_per_sec: u32,
    ratio: f64,
}

impl Default for RetryBudgetBuilder {
    fn default() -> Self {
        Self {
            ttl: RetryBudget::DEFAULT_TTL,
            min_per_sec: RetryBudget::DEFAULT_MIN_PER_SEC,
            ratio: RetryBudget::DEFAULT_RATIO,
        }
    }
}

impl RetryBudgetBuilder {
    /// How long deposits and withdrawals count; 1 s to 60 s, as Finagle. Default 10 s.
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// Retries per second allowed whatever the traffic (the floor). Default 10, as
    /// Finagle.
    pub fn min_per_sec(mut self, min_per_sec: u32) -> Self {
        self.min_per_sec = min_per_sec;
        self
    }

    /// Retries allowed per call, as a fraction: `0.2` is 20%. From 0 to 10 (1000%).
    /// Default 0.2, as Finagle.
    pub fn ratio(mut self, ratio: f64) -> Self {
        self.ratio = ratio;
        self
    }

    /// Checks the options and builds the budget.
    pub fn build(self) -> Result<RetryBudget, ConfigError> {
        let (reserve, deposit, ratio) = self.check()?;
        Ok(RetryBudget {
            state: Arc::new(State {
                created: Instant::now(),
                slot_nanos: (self.ttl.as_nanos() / u128::from(SLOTS)).max(1),
                reserve: AtomicI64::new(reserve),
                deposit: AtomicI64::new(deposit),
                ttl: self.ttl,
                min_per_sec: AtomicU32::new(self.min_per_sec),
                ratio: AtomicU64::new(ratio.to_bits()),
                epoch: AtomicU64::new(0),
                stripes: std::array::from_fn(|_| {
                    Slots(std::array::from_fn(|_| AtomicU64::new(pack(0, 0))))
                }),
            }),
        })
    }

    /// The checks of [`build`](Self::build): the reserve, the deposit per call (both in
    /// units) and the ratio.
    fn check(&self) -> Result<(i64, i64, f64), ConfigError> {
        let p = Primitive::Retry;
        if !(Duration::from_secs(1)..=Duration::from_secs(60)).contains(&self.ttl) {
            return Err(ConfigError::new(
                p,
                "ttl",
                format!("must be between 1s and 60s, got {:?}", self.ttl),
            ));
        }
        let ratio = check::at_least_f64(p, "ratio", self.ratio, 0.0)?;
        if ratio > 10.0 {
            return Err(ConfigError::new(
                p,
                "ratio",
                format!("must be at most 10 (1000%), got {ratio}"),
            ));
        }
        // Both are bounded above (ratio <= 10, ttl <= 60 s), so they fit an i64.
        let deposit = (ratio * UNIT as f64).round() as i64;
        let reserve = (f64::from(self.min_per_sec) * self.ttl.as_secs_f64() * UNIT as f64) as i64;
        Ok((reserve, deposit, ratio))
    }
}

impl RetryBudget {
    /// Default window: 10 s, as Finagle.
    pub const DEFAULT_TTL: Duration = Duration::from_secs(10);
    /// Default floor: 10 retries per second, as Finagle.
    pub const DEFAULT_MIN_PER_SEC: u32 = 10;
    /// Default share: 20% of calls, as Finagle.
    pub const DEFAULT_RATIO: f64 = 0.2;

    /// A builder with the Finagle defaults (10 s, 10/s, 20%).
    pub fn builder() -> RetryBudgetBuilder {
        RetryBudgetBuilder::default()
    }

    /// The window.
    pub fn ttl(&self) -> Duration {
        self.state.ttl
    }

    /// The floor, in retries per second.
    pub fn min_per_sec(&self) -> u32 {
        self.state.min_per_sec.load(Relaxed)
    }

    /// Applies `builder`'s `min_per_sec` and `ratio` to this budget in place, for every
    /// policy holding it: the deposits and withdrawals already made keep counting. The
    /// `ttl` lays out the budget's time slots, so a live budget keeps its own: a
    /// different `ttl` is refused.
    ///
    /// ```
    /// use resilience_core::retry::RetryBudget;
    ///
    /// let budget = RetryBudget::builder().min_per_sec(0).ratio(0.0).build().unwrap();
    /// assert!(!budget.try_withdraw());
    /// budget.reconfigure(RetryBudget::builder().min_per_sec(1)).unwrap();
    /// assert!(budget.try_withdraw());
    /// ```
    ///
    /// # Errors
    ///
    /// The options are invalid, or `ttl` differs from this budget's; the budget is
    /// unchanged then.
    pub fn reconfigure(&self, builder: RetryBudgetBuilder) -> Result<(), ConfigError> {
        let (reserve, deposit, ratio) = builder.check()?;
        let s = &*self.state;
        if builder.ttl != s.ttl {
            return Err(ConfigError::new(
                Primitive::Retry,
                "ttl",
                format!(
                    "cannot change on a live budget ({:?} now, {:?} asked): build a new budget",
                    s.ttl, builder.ttl
                ),
            ));
        }
        s.reserve.store(reserve, Relaxed);
        s.deposit.store(deposit, Relaxed);
        s.min_per_sec.store(builder.min_per_sec, Relaxed);
        s.ratio.store(ratio.to_bits(), Relaxed);
        Ok(())
    }

    /// Whether `self` and `other` are one budget (clones of one handle).
    pub(crate) fn same_as(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.state, &other.state)
    }

    /// The share of calls that may be retried, as a fraction.
    pub fn ratio(&self) -> f64 {
        f64::from_bits(self.state.ratio.load(Relaxed))
    }

    /// Records a call: adds `ratio` of a retry. Called once per call (not per attempt).
    ///
    /// On the fast path (15 deposits in 16 on a thread), one relaxed load of the newest
    /// epoch, one of its slot and one `fetch_add`: no clock read, no lock.
    #[inline]
    pub fn deposit(&self) {
        let s = &*self.state;
        let deposit = s.deposit.load(Relaxed);
        if deposit == 0 {
            return;
        }
        let n = DEPOSITS.with(|c| {
            let n = c.get().wrapping_add(1);
            c.set(n);
            n
        });
        let stripe = stripe();
        if n % CLOCK_EVERY == 0 {
            return s.deposit_slow(stripe, s.now_epoch(), deposit);
        }
        let epoch = s.epoch.load(Relaxed);
        // Fast path: the slot is current, so one `fetch_add` on the packed word adds to
        // its balance (it cannot carry into the tag: it is below `FAST_LIMIT`, and the
        // slow path saturates above).
        // If the slot was recycled between the load and the add, the deposit lands in
        // the next epoch's slot: one slot late, never lost.
        let slot = &s.stripes[stripe].0[(epoch % SLOTS) as usize];
        // One subtraction checks both: the tag is `epoch`'s and the balance is below
        // `FAST_LIMIT` (anything else wraps to a larger number).
        let word = slot.load(Relaxed);
        if word.wrapping_sub((epoch & TAG_MASK) << VALUE_BITS) < (FAST_LIMIT + OFFSET) as u64 {
            slot.fetch_add(deposit as u64, Relaxed);
        } else {
            s.deposit_slow(stripe, epoch, deposit);
        }
    }

    /// Takes one retry if the balance allows it; `false` means "do not retry".
    pub fn try_withdraw(&self) -> bool {
        let s = &*self.state;
        let stripe = stripe();
        let epoch = s.add_latest(stripe, s.now_epoch(), -UNIT);
        // Two withdrawals landing in different slots (at a slot boundary, or in two
        // stripes) must each see
        // the other's debit, or both could pass: a store-buffering race that relaxed
        // ordering allows. Failure path only.
        crate::sync::atomic::fence(SeqCst);
        if s.reserve.load(Relaxed) + s.sum(epoch) >= 0 {
            true
        } else {
            // Give it back; if the slot moved on meanwhile, the debit expired with it.
            s.add(stripe, epoch, UNIT);
            false
        }
    }

    /// The retries available now (a fraction when deposits are partial).
    pub fn balance(&self) -> f64 {
        let s = &*self.state;
        let b = s.reserve.load(Relaxed) + s.sum(s.now_epoch());
        b.max(0) as f64 / UNIT as f64
    }
}

impl State {
    /// A deposit that recycles a slot or reads the clock: out of line, so the fast path
    /// of [`RetryBudget::deposit`] stays small enough to inline.
    #[cold]
    #[inline(never)]
    fn deposit_slow(&self, stripe: usize, epoch: u64, deposit: i64) {
        self.add_latest(stripe, epoch, deposit);
    }

    fn now_epoch(&self) -> u64 {
        let since = Instant::now().saturating_duration_since(self.created);
        let epoch = u64::try_from(since.as_nanos() / self.slot_nanos).unwrap_or(u64::MAX);
        // A `fetch_max` that writes only when the epoch moves on (most reads see it
        // current): on x86 `fetch_max` is a compare-and-swap loop that always writes.
        let mut seen = self.epoch.load(Relaxed);
        while seen < epoch {
            match self
                .epoch
                .compare_exchange_weak(seen, epoch, Relaxed, Relaxed)
            {
                Ok(_) => return epoch,
                Err(actual) => seen = actual,
            }
        }
        seen
    }

    /// Adds `delta` to `stripe`'s slot of `epoch`, or of a newer epoch if one was seen
    /// meanwhile; returns the epoch used.
    fn add_latest(&self, stripe: usize, mut epoch: u64, delta: i64) -> u64 {
        while !self.add(stripe, epoch, delta) {
            epoch = self.epoch.load(Relaxed).max(epoch + 1);
        }
        epoch
    }

    /// Adds `delta` to `stripe`'s slot of `epoch`, recycling the slot if it holds an older
    /// epoch. `false` if the slot already holds a newer epoch.
    fn add(&self, stripe: usize, epoch: u64, delta: i64) -> bool {
        let slot = &self.stripes[stripe].0[(epoch % SLOTS) as usize];
        let tag = epoch & TAG_MASK;
        let mut current = slot.load(Relaxed);
        loop {
            let (held, value) = unpack(current);
            let next = if held == tag {
                pack(tag, value.saturating_add(delta))
            } else if is_newer(held, tag) {
                return false;
            } else {
                pack(tag, delta)
            };
            match slot.compare_exchange_weak(current, next, Relaxed, Relaxed) {
                Ok(_) => return true,
                Err(actual) => current = actual,
            }
        }
    }

    /// The net units of the slots within the window ending at `epoch`, every stripe's.
    fn sum(&self, epoch: u64) -> i64 {
        let tag = epoch & TAG_MASK;
        self.stripes
            .iter()
            .flat_map(|stripe| &stripe.0)
            .map(|slot| unpack(slot.load(Relaxed)))
            .filter(|&(held, _)| tag.wrapping_sub(held) & TAG_MASK < SLOTS)
            .map(|(_, value)| value)
            .sum()
    }
}

fn pack(tag: u64, value: i64) -> u64 {
    let stored = value.clamp(-OFFSET, OFFSET - 1) + OFFSET;
    (tag << VALUE_BITS) | stored as u64
}

#[inline]
fn unpack(word: u64) -> (u64, i64) {
    let stored = (word & ((1 << VALUE_BITS) - 1)) as i64;
    (word >> VALUE_BITS, stored - OFFSET)
}

/// Whether tag `a` is a newer epoch than `b` (modulo the tag width).
fn is_newer(a: u64, b: u64) -> bool {
    let ahead = a.wrapping_sub(b) & TAG_MASK;
    ahead != 0 && ahead < TAG_MASK / 2
}

impl fmt::Debug for RetryBudget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetryBudget")
            .field("ttl", &self.state.ttl)
            .field("min_per_sec", &self.min_per_sec())
            .field("ratio", &self.ratio())
            .field("balance", &self.balance())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn budget(min_per_sec: u32, ratio: f64) -> RetryBudget {
        RetryBudget::builder()
            .min_per_sec(min_per_sec)
            .ratio(ratio)
            .build()
            .unwrap()
    }

    #[tokio::test(start_paused = true)]
    async fn fast_deposits_never_carry_into_the_tag() {
        let b = budget(0, 10.0);
        let s = &*b.state;
        // A slot almost full: an unchecked `fetch_add` would carry into the tag.
        let slot = &s.stripes[stripe()].0[0];
        slot.store(pack(0, OFFSET - 1), Relaxed);
        for _ in 0..(3 * CLOCK_EVERY) {
            b.deposit();
        }
        assert_eq!(unpack(slot.load(Relaxed)), (0, OFFSET - 1), "saturated");
        assert!(b.try_withdraw());
    }

    #[test]
    fn deposits_from_many_threads_all_count_across_stripes() {
        let b = budget(0, 0.5);
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let b = b.clone();
                std::thread::spawn(move || (0..1000).for_each(|_| b.deposit()))
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(b.balance(), 4000.0, "8 threads × 1000 calls × 0.5");
        let granted = (0..5000).filter(|_| b.try_withdraw()).count();
        assert_eq!(granted, 4000);
    }

    #[test]
    fn packing_round_trips_signed_values() {
        for v in [-OFFSET, -1, 0, 1, OFFSET - 1] {
            assert_eq!(unpack(pack(5, v)), (5, v));
        }
        assert!(is_newer(1, 0));
        assert!(is_newer(0, TAG_MASK), "wraps");
        assert!(!is_newer(3, 3));
    }

    #[tokio::test(start_paused = true)]
    async fn fractional_ratios_are_exact() {
        for (ratio, deposits, expected) in [(0.6, 10, 6), (0.15, 100, 15), (0.333, 1000, 333)] {
            let b = budget(0, ratio);
            (0..deposits).for_each(|_| b.deposit());
            let granted = (0..deposits).filter(|_| b.try_withdraw()).count();
            assert_eq!(granted, expected, "ratio {ratio}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn floor_refills_after_the_window() {
        let b = budget(2, 0.0);
        let first = (0..100).filter(|_| b.try_withdraw()).count();
        assert_eq!(first, 20, "2/s over 10 s");
        tokio::time::advance(Duration::from_secs(11)).await;
        let later = (0..100).filter(|_| b.try_withdraw()).count();
        assert_eq!(later, 20, "withdrawals expire with the window");
    }

    #[tokio::test(start_paused = true)]
    async fn deposits_expire_after_ttl() {
        let b = budget(0, 1.0);
        (0..50).for_each(|_| b.deposit());
        assert_eq!(b.balance(), 50.0);
        tokio::time::advance(Duration::from_secs(11)).await;
        assert_eq!(b.balance(), 0.0);
        assert!(!b.try_withdraw());
    }

    #[test]
    fn invalid_options_are_config_errors() {
        let bad = [
            RetryBudget::builder().ratio(f64::NAN).build(),
            RetryBudget::builder().ratio(-0.1).build(),
            RetryBudget::builder().ratio(11.0).build(),
            RetryBudget::builder().ttl(Duration::ZERO).build(),
            RetryBudget::builder().ttl(Duration::from_secs(61)).build(),
        ];
        for result in bad {
            let err = result.unwrap_err();
            assert_eq!(err.primitive(), Primitive::Retry);
        }
    }
}
