//! The upstream's books: every call it received, every charge it made, and how its
//! workers spent their time.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::PoisonError;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::time::Instant;

/// Counts kept by an upstream.
#[derive(Debug, Default)]
pub struct Ledger {
    calls: AtomicU64,
    refused: AtomicU64,
    expired: AtomicU64,
    abandoned: AtomicU64,
    orphaned: AtomicU64,
    busy_nanos: AtomicU64,
    wasted_nanos: AtomicU64,
    pub(super) pending: AtomicU64,
    next_charge: AtomicU64,
    books: Mutex<Books>,
}

#[derive(Debug, Default)]
struct Books {
    /// Charges per payment id.
    charges: HashMap<String, u64>,
    /// When each charge beyond a payment's first was made, from the start of the run.
    duplicates: Vec<Duration>,
    /// Charges beyond a payment's first made when the run was over (fast-forwarded).
    late_duplicates: u64,
}

/// What became of a charge a worker picked up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Work {
    /// Its caller's deadline had passed while it waited: skipped, no work done.
    Expired,
    /// Started, stopped at the caller's deadline, nothing charged.
    Abandoned,
    /// Charged, and someone was still waiting for the answer.
    Charged,
    /// Charged for nobody: the caller had hung up.
    Orphaned,
}

impl Ledger {
    pub(super) fn call(&self) {
        self.calls.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn refuse(&self) {
        self.refused.fetch_add(1, Ordering::Relaxed);
    }

    /// Books a worker's `spent` time on one job: wasted unless someone got the answer.
    pub(super) fn work(&self, work: Work, spent: Duration) {
        let nanos = u64::try_from(spent.as_nanos()).unwrap_or(u64::MAX);
        self.busy_nanos.fetch_add(nanos, Ordering::Relaxed);
        let counter = match work {
            Work::Expired => &self.expired,
            Work::Abandoned => &self.abandoned,
            Work::Charged => return,
            Work::Orphaned => &self.orphaned,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        self.wasted_nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    /// Takes the money for `payment`, `at` (from the start of the run; `None` once the run
    /// is over); returns the charge's number.
    pub(super) fn charge(&self, payment: &str, at: Option<Duration>) -> u64 {
        let mut books = self.books.lock().unwrap_or_else(PoisonError::into_inner);
        let count = books.charges.entry(payment.to_owned()).or_default();
        *count += 1;
        if *count > 1 {
            match at {
                Some(at) => books.duplicates.push(at),
                None => books.late_duplicates += 1,
            }
        }
        self.next_charge.fetch_add(1, Ordering::Relaxed)
    }

    /// Waits until no job is queued or running, or `at_most`.
    pub async fn settled(&self, at_most: Duration) {
        let give_up = Instant::now() + at_most;
        while self.pending.load(Ordering::Acquire) > 0 && Instant::now() < give_up {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// How many times `payment` was charged.
    #[must_use]
    pub fn charges_of(&self, payment: &str) -> u64 {
        let books = self.books.lock().unwrap_or_else(PoisonError::into_inner);
        books.charges.get(payment).copied().unwrap_or(0)
    }

    /// A copy of the counts.
    #[must_use]
    pub fn snapshot(&self) -> LedgerSnapshot {
        let books = self.books.lock().unwrap_or_else(PoisonError::into_inner);
        let mut duplicates = books.duplicates.clone();
        duplicates.sort_unstable();
        let nanos = |a: &AtomicU64| Duration::from_nanos(a.load(Ordering::Relaxed));
        LedgerSnapshot {
            calls: self.calls.load(Ordering::Relaxed),
            refused: self.refused.load(Ordering::Relaxed),
            expired: self.expired.load(Ordering::Relaxed),
            abandoned: self.abandoned.load(Ordering::Relaxed),
            orphaned: self.orphaned.load(Ordering::Relaxed),
            busy: nanos(&self.busy_nanos),
            wasted: nanos(&self.wasted_nanos),
            charged: books.charges.len() as u64,
            duplicate_charges: duplicates.len() as u64 + books.late_duplicates,
            late_duplicates: books.late_duplicates,
            duplicates,
        }
    }
}

/// The ledger's counts at one moment.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LedgerSnapshot {
    /// Requests received (every attempt, from every caller), faults included.
    pub calls: u64,
    /// Requests refused at once because the queue was full.
    pub refused: u64,
    /// Charges skipped because the caller's propagated deadline passed while they queued.
    pub expired: u64,
    /// Charges stopped at the caller's propagated deadline, uncharged.
    pub abandoned: u64,
    /// Charges made after their caller had hung up.
    pub orphaned: u64,
    /// Worker time spent on charges, wasted or not.
    pub busy: Duration,
    /// Worker time spent on charges nobody got the answer of (orphaned or abandoned).
    pub wasted: Duration,
    /// Distinct payments charged at least once.
    pub charged: u64,
    /// Charges beyond the first for the same payment: money taken twice.
    pub duplicate_charges: u64,
    /// When each of those made during the run was made, from its start, in order.
    pub duplicates: Vec<Duration>,
    /// Those made once the run was over, by jobs still queued then.
    pub late_duplicates: u64,
}

impl LedgerSnapshot {
    /// Share of worker time wasted (0 without work).
    #[must_use]
    pub fn wasted_share(&self) -> f64 {
        if self.busy.is_zero() {
            return 0.0;
        }
        self.wasted.as_secs_f64() / self.busy.as_secs_f64()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_charge_of_a_payment_is_a_duplicate_with_its_time() {
        let ledger = Ledger::default();
        ledger.charge("a", Some(Duration::from_secs(1)));
        ledger.charge("b", Some(Duration::from_secs(2)));
        ledger.charge("a", Some(Duration::from_secs(3)));
        ledger.charge("a", Some(Duration::from_secs(4)));
        ledger.charge("b", None);
        let snapshot = ledger.snapshot();
        assert_eq!(snapshot.charged, 2);
        assert_eq!(snapshot.duplicate_charges, 3);
        assert_eq!(snapshot.late_duplicates, 1);
        assert_eq!(
            snapshot.duplicates,
            [Duration::from_secs(3), Duration::from_secs(4)]
        );
        assert_eq!(ledger.charges_of("a"), 3);
        assert_eq!(ledger.charges_of("b"), 2);
        assert_eq!(ledger.charges_of("c"), 0);
    }

    #[test]
    fn work_nobody_waited_for_is_wasted() {
        let ledger = Ledger::default();
        let ms = Duration::from_millis;
        ledger.work(Work::Charged, ms(30));
        ledger.work(Work::Orphaned, ms(50));
        ledger.work(Work::Abandoned, ms(20));
        ledger.work(Work::Expired, Duration::ZERO);
        let snapshot = ledger.snapshot();
        assert_eq!(snapshot.busy, ms(100));
        assert_eq!(snapshot.wasted, ms(70));
        assert!((snapshot.wasted_share() - 0.7).abs() < 1e-9);
        assert_eq!(
            (snapshot.orphaned, snapshot.abandoned, snapshot.expired),
            (1, 1, 1)
        );
    }
}
