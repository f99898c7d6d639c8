//! Loom models of the bulkhead's slot word: every interleaving (up to a preemption bound)
//! of takes, queueing, releases (with hand-offs) and waiters leaving. Run by `.ci/run`:
//! `RUSTFLAGS="--cfg loom" cargo test -p resilience-core --lib --release loom`.

use loom::sync::Arc;
use loom::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use loom::thread;

use super::state::{Entry, Slots};

fn model(f: impl Fn() + Send + Sync + 'static) {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(3);
    builder.check(f);
}

/// Runs "work" in a slot and checks the limit meanwhile.
fn work(running: &AtomicUsize, max: usize) {
    let now = running.fetch_add(1, SeqCst) + 1;
    assert!(now <= max, "{now} in flight, limit {max}");
    running.fetch_sub(1, SeqCst);
}

#[test]
fn loom_slots_are_never_over_taken_and_a_waiter_leaving_loses_no_slot() {
    model(|| {
        let slots = Arc::new(Slots::new(1, 1));
        let running = Arc::new(AtomicUsize::new(0));
        assert!(slots.try_take());
        let other = {
            let (slots, running) = (slots.clone(), running.clone());
            thread::spawn(move || match slots.try_take_or_enqueue() {
                Entry::Taken => {
                    work(&running, 1);
                    slots.release();
                }
                // Queued: it gives up (a cancelled or timed-out waiter), whether or not
                // the slot was handed to it meanwhile.
                Entry::Queued => slots.leave(),
                Entry::QueueFull => unreachable!("one place in the queue"),
            })
        };
        work(&running, 1);
        slots.release();
        other.join().unwrap();
        assert_eq!((slots.in_flight(), slots.waiting()), (0, 0));
        assert_eq!(slots.handoff.available_permits(), 0, "a hand-off was lost");
    });
}

#[test]
fn loom_racing_takes_admit_at_most_the_limit() {
    model(|| {
        let slots = Arc::new(Slots::new(2, 0));
        let running = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..2)
            .map(|_| {
                let (slots, running) = (slots.clone(), running.clone());
                thread::spawn(move || {
                    if slots.try_take() {
                        work(&running, 2);
                        slots.release();
                    }
                })
            })
            .collect();
        if slots.try_take() {
            work(&running, 2);
            slots.release();
        }
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!((slots.in_flight(), slots.waiting()), (0, 0));
    });
}
