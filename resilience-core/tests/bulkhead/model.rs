//! Property test: any single-threaded sequence of acquires, releases, cancellations and
//! polls behaves like a small model of slots and a FIFO queue.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use proptest::prelude::*;
use resilience_core::ErrorKind;
use resilience_core::bulkhead::{Acquire, Bulkhead, Permit};

use crate::support::decided;

#[derive(Clone, Debug)]
enum Op {
    TryAcquire,
    Acquire,
    DropPermit(usize),
    CancelWaiter(usize),
    PollWaiters,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        2 => Just(Op::TryAcquire),
        3 => Just(Op::Acquire),
        3 => (0..8usize).prop_map(Op::DropPermit),
        2 => (0..8usize).prop_map(Op::CancelWaiter),
        2 => Just(Op::PollWaiters),
    ]
}

/// The model: slots taken (held or being handed over) and the queue, oldest first, each
/// waiter marked when a slot has been handed to it.
#[derive(Default)]
struct Model {
    taken: usize,
    queue: VecDeque<(u64, bool)>,
}

impl Model {
    fn waiting(&self) -> usize {
        self.queue.iter().filter(|(_, handed)| !handed).count()
    }

    /// A slot is freed: it goes to the oldest waiter without one, or back to the pool.
    fn free_slot(&mut self) {
        match self.queue.iter_mut().find(|(_, handed)| !handed) {
            Some(waiter) => waiter.1 = true,
            None => self.taken -= 1,
        }
    }
}

fn poll(acquire: &mut Acquire) -> Poll<Result<Permit, resilience_core::Error>> {
    Pin::new(acquire).poll(&mut Context::from_waker(Waker::noop()))
}

fn check(capacity: usize, max_waiting: usize, ops: Vec<Op>) {
    let bulkhead = Bulkhead::builder()
        .max_concurrent(capacity)
        .max_waiting(max_waiting)
        .max_wait(Duration::from_secs(3600))
        .build()
        .unwrap();
    let mut model = Model::default();
    let mut permits: Vec<Permit> = Vec::new();
    let mut waiters: VecDeque<(u64, Acquire)> = VecDeque::new();
    let mut next_id = 0;
    for op in ops {
        let free = model.taken < capacity && model.waiting() == 0;
        match op {
            Op::TryAcquire => match bulkhead.try_acquire() {
                Ok(permit) => {
                    assert!(free, "admitted past the model");
                    model.taken += 1;
                    permits.push(permit);
                }
                Err(err) => {
                    assert!(!free, "refused with a free slot");
                    assert_eq!(err.kind(), ErrorKind::BulkheadFull);
                }
            },
            Op::Acquire => {
                let mut acquire = bulkhead.acquire();
                if free {
                    model.taken += 1;
                    permits.push(decided(acquire).unwrap());
                } else if model.waiting() < max_waiting {
                    assert!(acquire.is_waiting());
                    // Its first poll registers it in the queue.
                    assert!(poll(&mut acquire).is_pending());
                    model.queue.push_back((next_id, false));
                    waiters.push_back((next_id, acquire));
                    next_id += 1;
                } else {
                    let err = decided(acquire).unwrap_err();
                    assert_eq!(err.kind(), ErrorKind::BulkheadFull);
                }
            }
            Op::DropPermit(i) => {
                if !permits.is_empty() {
                    drop(permits.swap_remove(i % permits.len()));
                    model.free_slot();
                }
            }
            Op::CancelWaiter(i) => {
                if !waiters.is_empty() {
                    let (id, acquire) = waiters.remove(i % waiters.len()).unwrap();
                    drop(acquire);
                    let at = model.queue.iter().position(|(w, _)| *w == id).unwrap();
                    let (_, handed) = model.queue.remove(at).unwrap();
                    if handed {
                        model.free_slot();
                    }
                }
            }
            Op::PollWaiters => {
                let mut still = VecDeque::new();
                for (id, mut acquire) in waiters.drain(..) {
                    let at = model.queue.iter().position(|(w, _)| *w == id).unwrap();
                    match poll(&mut acquire) {
                        Poll::Ready(outcome) => {
                            assert!(model.queue[at].1, "admitted without a hand-off");
                            model.queue.remove(at);
                            permits.push(outcome.expect("a handed-off waiter is admitted"));
                        }
                        Poll::Pending => {
                            assert!(!model.queue[at].1, "a hand-off was not delivered");
                            still.push_back((id, acquire));
                        }
                    }
                }
                waiters = still;
            }
        }
        assert_eq!(bulkhead.in_flight(), model.taken, "in flight");
        assert_eq!(bulkhead.waiting(), model.waiting(), "waiting");
        assert!(model.taken <= capacity);
    }
    drop(waiters);
    drop(permits);
    assert_eq!((bulkhead.in_flight(), bulkhead.waiting()), (0, 0));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn slots_and_queue_follow_the_model(
        capacity in 1..4usize,
        max_waiting in 1..4usize,
        ops in proptest::collection::vec(op(), 1..60),
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap();
        runtime.block_on(async move { check(capacity, max_waiting, ops) });
    }
}
