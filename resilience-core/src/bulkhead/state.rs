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
//!
//! # An adjustable limit
//!
//! `limit` is its own atomic, so that an [adaptive bulkhead](crate::adaptive) can move it;
//! a fixed bulkhead never does, and its paths read it where they read a constant before.
//!
//! - **lowering** it changes nothing at once: calls in flight above the new limit finish.
//!   A release that finds `in_flight > limit` gives its slot back (`in_flight - 1`) even
//!   with waiters, so the count comes down to the limit, one release at a time.
//! - **raising** it hands the new room to waiters: **pump** turns a waiter into a held
//!   slot (`waiting - 1`, `in_flight + 1`, one hand-off permit) while
//!   `waiting > 0 && in_flight < limit`.
//!
//! A transition that can leave `waiting > 0` beside room under the limit (an enqueue, a
//! release that did not hand off, a new limit) pumps afterwards. Each side does "write,
//! `SeqCst` fence, read the other" (the setter writes `limit` and reads `word`; the
//! others write `word` and read `limit`), so at least one of two racing sides sees both
//! writes and no waiter is left behind room that is free. A fixed bulkhead never has
//! `waiting > 0` with `in_flight < limit`, so its pumps find nothing to do.

use crate::sync::atomic::{AtomicU64, Ordering, fence};

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
pub(crate) struct Slots {
    word: AtomicU64,
    limit: AtomicU64,
    max_waiting: AtomicU64,
    pub(super) handoff: Semaphore,
}

impl Slots {
    pub(super) fn new(max_concurrent: usize, max_waiting: usize) -> Self {
        Self {
            word: AtomicU64::new(0),
            limit: AtomicU64::new(max_concurrent as u64),
            max_waiting: AtomicU64::new(max_waiting as u64),
            handoff: Semaphore::new(0),
        }
    }

    pub(crate) fn in_flight(&self) -> usize {
        in_flight(self.word.load(Ordering::Acquire))
    }

    pub(super) fn waiting(&self) -> usize {
        waiting(self.word.load(Ordering::Acquire))
    }

    /// How many slots may be held now.
    pub(crate) fn limit(&self) -> usize {
        self.limit.load(Ordering::Relaxed) as usize
    }

    /// How many callers may queue.
    pub(crate) fn max_waiting(&self) -> usize {
        self.max_waiting.load(Ordering::Relaxed) as usize
    }

    /// Moves the queue bound: callers queued beyond a lower bound keep their place.
    pub(crate) fn set_max_waiting(&self, max_waiting: usize) {
        self.max_waiting
            .store(max_waiting as u64, Ordering::Relaxed);
    }

    /// Moves the limit (at most [`MAX_PERMITS`](super::MAX_PERMITS)); see the module docs.
    pub(crate) fn set_limit(&self, limit: usize) {
        self.limit.store(limit as u64, Ordering::Relaxed);
        self.pump();
    }

    /// Hands room under the limit to waiters; see the module docs. Out of line: it must
    /// not weigh on the release it follows.
    #[cold]
    #[inline(never)]
    fn pump(&self) {
        fence(Ordering::SeqCst);
        let limit = self.limit.load(Ordering::Relaxed);
        let mut word = self.word.load(Ordering::Relaxed);
        while word > IN_FLIGHT_MASK && (word & IN_FLIGHT_MASK) < limit {
            let next = word - ONE_WAITING + 1;
            match self
                .word
                .compare_exchange_weak(word, next, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) => {
                    self.handoff.add_permits(1);
                    word = next;
                }
                Err(actual) => word = actual,
            }
        }
    }

    /// The fast path: takes a slot if one is free and nobody is queued.
    #[inline]
    pub(super) fn try_take(&self) -> bool {
        let mut word = self.word.load(Ordering::Relaxed);
        loop {
            if word & IN_FLIGHT_MASK >= self.limit.load(Ordering::Relaxed) || word > IN_FLIGHT_MASK
            {
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
        let limit = self.limit.load(Ordering::Relaxed);
        let mut word = self.word.load(Ordering::Relaxed);
        loop {
            let (next, entry) = if waiting(word) == 0 && (word & IN_FLIGHT_MASK) < limit {
                (word + 1, Entry::Taken)
            } else if (waiting(word) as u64) < self.max_waiting.load(Ordering::Relaxed) {
                (word + ONE_WAITING, Entry::Queued)
            } else {
                return Entry::QueueFull;
            };
            match self
                .word
                .compare_exchange_weak(word, next, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) => {
                    if entry == Entry::Queued {
                        // The limit may have been raised since it was read.
                        self.pump();
                    }
                    return entry;
                }
                Err(actual) => word = actual,
            }
        }
    }

    /// Gives a slot back, handing it to the oldest waiter if there is one (and the slot
    /// is under the limit).
    #[inline]
    pub(super) fn release(&self) {
        let mut word = self.word.load(Ordering::Relaxed);
        loop {
            let handoff = word > IN_FLIGHT_MASK
                && (word & IN_FLIGHT_MASK) <= self.limit.load(Ordering::Relaxed);
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
                    } else if word > IN_FLIGHT_MASK {
                        // Over the limit with waiters: the limit may have been raised
                        // since it was read.
                        self.pump();
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
    fn lowering_the_limit_lets_calls_above_it_finish_without_handing_off() {
        let slots = Slots::new(3, 2);
        for _ in 0..3 {
            assert!(slots.try_take());
        }
        assert_eq!(slots.try_take_or_enqueue(), Entry::Queued);
        slots.set_limit(1);
        assert!(!slots.try_take());
        // Two releases bring the count down to the limit without serving the waiter.
        slots.release();
        slots.release();
        assert_eq!((slots.in_flight(), slots.waiting()), (1, 1));
        assert_eq!(slots.handoff.available_permits(), 0);
        // At the limit, a release hands its slot over again.
        slots.release();
        assert_eq!((slots.in_flight(), slots.waiting()), (1, 0));
        assert_eq!(slots.handoff.available_permits(), 1);
    }

    #[test]
    fn raising_the_limit_hands_the_new_room_to_waiters() {
        let slots = Slots::new(1, 3);
        assert!(slots.try_take());
        for _ in 0..3 {
            assert_eq!(slots.try_take_or_enqueue(), Entry::Queued);
        }
        slots.set_limit(3);
        assert_eq!((slots.in_flight(), slots.waiting()), (3, 1));
        assert_eq!(slots.handoff.available_permits(), 2);
        // The one still waiting leaves the queue; one that leaves after its hand-off
        // gives the slot back.
        slots.leave();
        assert_eq!((slots.in_flight(), slots.waiting()), (3, 0));
        slots.leave();
        assert_eq!((slots.in_flight(), slots.waiting()), (2, 0));
        assert_eq!(slots.handoff.available_permits(), 1);
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
