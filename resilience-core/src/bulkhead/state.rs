//! The admission state: one atomic word for the fast path, a FIFO semaphore for waiters.
//!
//! # Protocol
//!
//! `word` packs two counts: `in_flight` (low 32 bits: slots taken, including a slot being
//! handed to a waiter) and `waiting` (high 32 bits: queued callers that no slot has been
//! handed to yet). Every transition is one compare-and-swap on `word`, so the two counts
//! always change together and no wake-up is lost between them.
//!
//! - **take** (fast path): `waiting == 0 && in_flight < max` → `in_flight + 1`. A caller
//!   never overtakes a queued one, which keeps the queue FIFO.
//! - **enqueue**: `waiting < max_waiting` → `waiting + 1`, then wait on `handoff` (a tokio
//!   [`Semaphore`] with no permits of its own; it is FIFO and cancel-safe).
//! - **release** (a permit drops): `waiting > 0` → `waiting - 1` and add one permit to
//!   `handoff`: the slot passes to the oldest waiter without `in_flight` changing.
//!   Otherwise `in_flight - 1`. Only this hand-off touches the semaphore (and its mutex),
//!   so an uncontended call costs two compare-and-swaps.
//! - **leave** (a waiter is cancelled or times out, after dropping its semaphore future,
//!   which returns any hand-off it was given to the semaphore): `waiting > 0` →
//!   `waiting - 1`. With `waiting == 0`, every queued caller (this one included) had a
//!   hand-off, so one surplus permit sits in `handoff`: take it back and release the slot.
//!   A caller that enqueues meanwhile makes `waiting > 0` first, so the loop ends.
//!
//! Invariant: queued callers = `waiting` + hand-off permits not yet taken.

use crate::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::Semaphore;

const IN_FLIGHT_MASK: u64 = u32::MAX as u64;
const ONE_WAITING: u64 = 1 << 32;

fn in_flight(word: u64) -> usize {
    (word & IN_FLIGHT_MASK) as usize
}

fn waiting(word: u64) -> usize {
    (word >> 32) as usize
}

/// What [`Slots::try_take_or_enqueue`] decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Entry {
    /// A slot was taken.
    Taken,
    /// The caller is counted as waiting and must wait for a hand-off.
    Queued,
    /// Every slot and every place in the queue is taken.
    QueueFull,
}

#[derive(Debug)]
pub(super) struct Slots {
    word: AtomicU64,
    max_concurrent: u64,
    max_waiting: u64,
    pub(super) handoff: Semaphore,
}

impl Slots {
    pub(super) fn new(max_concurrent: usize, max_waiting: usize) -> Self {
        Self {
            word: AtomicU64::new(0),
            max_concurrent: max_concurrent as u64,
            max_waiting: max_waiting as u64,
            handoff: Semaphore::new(0),
        }
    }

    pub(super) fn in_flight(&self) -> usize {
        in_flight(self.word.load(Ordering::Acquire))
    }

    pub(super) fn waiting(&self) -> usize {
        waiting(self.word.load(Ordering::Acquire))
    }

    /// The fast path: takes a slot if one is free and nobody is queued.
    #[inline]
    pub(super) fn try_take(&self) -> bool {
        let mut word = self.word.load(Ordering::Relaxed);
        loop {
            if word & IN_FLIGHT_MASK >= self.max_concurrent || word > IN_FLIGHT_MASK {
                return false;
            }
            match self.word.compare_exchange_weak(
                word,
                word + 1,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => return true,
                Err(actual) => word = actual,
            }
        }
    }

    /// Takes a slot, or a place in the queue, or neither.
    pub(super) fn try_take_or_enqueue(&self) -> Entry {
        let mut word = self.word.load(Ordering::Relaxed);
        loop {
            let (next, entry) =
                if waiting(word) == 0 && (word & IN_FLIGHT_MASK) < self.max_concurrent {
                    (word + 1, Entry::Taken)
                } else if (waiting(word) as u64) < self.max_waiting {
                    (word + ONE_WAITING, Entry::Queued)
                } else {
                    return Entry::QueueFull;
                };
            match self
                .word
                .compare_exchange_weak(word, next, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) => return entry,
                Err(actual) => word = actual,
            }
        }
    }

    /// Gives a slot back, handing it to the oldest waiter if there is one.
    #[inline]
    pub(super) fn release(&self) {
        let mut word = self.word.load(Ordering::Relaxed);
        loop {
            let handoff = word > IN_FLIGHT_MASK;
            let next = if handoff {
                word - ONE_WAITING
            } else {
                word - 1
            };
            match self
                .word
                .compare_exchange_weak(word, next, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) => {
                    if handoff {
                        self.handoff.add_permits(1);
                    }
                    return;
                }
                Err(actual) => word = actual,
            }
        }
    }

    /// A queued caller gives up. Its semaphore future must already be dropped.
    pub(super) fn leave(&self) {
        loop {
            let word = self.word.load(Ordering::Acquire);
            if word > IN_FLIGHT_MASK {
                if self
                    .word
                    .compare_exchange(
                        word,
                        word - ONE_WAITING,
                        Ordering::AcqRel,
                        Ordering::Acquire,
                    )
                    .is_ok()
                {
                    return;
                }
                continue;
            }
            // A slot was handed to us (or to someone queued behind us, who has one of
            // ours in return): take the surplus permit back and release the slot.
            if let Ok(permit) = self.handoff.try_acquire() {
                permit.forget();
                self.release();
                return;
            }
            crate::sync::spin_loop();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn take_enqueue_and_release_keep_both_counts() {
        let slots = Slots::new(2, 1);
        assert!(slots.try_take());
        assert_eq!(slots.try_take_or_enqueue(), Entry::Taken);
        assert!(!slots.try_take());
        assert_eq!(slots.try_take_or_enqueue(), Entry::Queued);
        assert_eq!(slots.try_take_or_enqueue(), Entry::QueueFull);
        assert_eq!((slots.in_flight(), slots.waiting()), (2, 1));

        // A release with a waiter hands the slot over: in flight stays 2.
        slots.release();
        assert_eq!((slots.in_flight(), slots.waiting()), (2, 0));
        assert_eq!(slots.handoff.available_permits(), 1);

        // The waiter leaves instead of taking it: the surplus slot is released.
        slots.leave();
        assert_eq!((slots.in_flight(), slots.waiting()), (1, 0));
        assert_eq!(slots.handoff.available_permits(), 0);
        slots.release();
        assert_eq!((slots.in_flight(), slots.waiting()), (0, 0));
    }

    #[test]
    fn a_waiter_leaving_before_any_handoff_only_leaves_the_queue() {
        let slots = Slots::new(1, 2);
        assert!(slots.try_take());
        assert_eq!(slots.try_take_or_enqueue(), Entry::Queued);
        slots.leave();
        assert_eq!((slots.in_flight(), slots.waiting()), (1, 0));
        assert_eq!(slots.handoff.available_permits(), 0);
    }
}
