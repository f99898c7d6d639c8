//! The upstream's workers: a fixed number of them, fed from a bounded first-in-first-out
//! queue, so latency grows with load.
//!
//! A charge is queued as a job of its own: the HTTP request only waits for its answer.
//! When the caller hangs up, the job stays queued and is done anyway, as a real server's
//! is — the request was read, the work is scheduled, nobody cancels it. The one thing
//! that stops it is the caller's deadline, when the caller sent it: a job whose deadline
//! passed while it queued is skipped, and a job that cannot finish before it is stopped
//! there, uncharged. That is what deadline propagation buys the upstream.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::{Notify, Semaphore, oneshot};
use tokio::time::Instant;

use super::ledger::{Ledger, Work};
use super::script::Script;
use super::{ChargeRequest, Receipt};
use crate::chaos::rng;

/// Separates the service-time draws from the other draws on the same seed.
const SERVICE_SALT: u64 = 0x7365_7276;

/// The answer a queued charge gets.
#[derive(Debug)]
pub(super) enum Answer {
    /// Charged.
    Charged(Receipt),
    /// The caller's deadline passed first; nothing charged.
    TooLate,
}

/// The workers and their queue.
#[derive(Debug)]
pub(super) struct Pool {
    script: Script,
    start: Instant,
    ledger: Arc<Ledger>,
    workers: Semaphore,
    queued: AtomicUsize,
    jobs: AtomicU64,
    fast_forward: AtomicBool,
    wake: Notify,
}

impl Pool {
    pub(super) fn new(script: Script, start: Instant, ledger: Arc<Ledger>) -> Self {
        Self {
            workers: Semaphore::new(script.workers.max(1)),
            script,
            start,
            ledger,
            queued: AtomicUsize::new(0),
            jobs: AtomicU64::new(0),
            fast_forward: AtomicBool::new(false),
            wake: Notify::new(),
        }
    }

    /// Queues a charge, to be done by `deadline` if there is one. `None` when the queue is
    /// full: the caller is refused at once.
    pub(super) fn submit(
        self: &Arc<Self>,
        request: ChargeRequest,
        deadline: Option<Instant>,
    ) -> Option<oneshot::Receiver<Answer>> {
        if self.queued.fetch_add(1, Ordering::AcqRel) >= self.script.queue {
            self.queued.fetch_sub(1, Ordering::AcqRel);
            self.ledger.refuse();
            return None;
        }
        let seq = self.jobs.fetch_add(1, Ordering::Relaxed);
        let (reply, answer) = oneshot::channel();
        self.ledger.pending.fetch_add(1, Ordering::AcqRel);
        let pending = Pending(Arc::clone(&self.ledger));
        tokio::spawn(Arc::clone(self).run(seq, request, deadline, reply, pending));
        Some(answer)
    }

    /// The `Retry-After` of a refusal.
    pub(super) fn retry_after(&self) -> Duration {
        self.script.retry_after
    }

    /// Finishes every queued and running job at once, as it would have ended: the run is
    /// over, and only what the jobs would have charged is left to count.
    pub(super) fn fast_forward(&self) {
        self.fast_forward.store(true, Ordering::Release);
        self.wake.notify_waiters();
    }

    async fn run(
        self: Arc<Self>,
        seq: u64,
        request: ChargeRequest,
        deadline: Option<Instant>,
        reply: oneshot::Sender<Answer>,
        _pending: Pending,
    ) {
        // The semaphore is fair: jobs get a worker in the order they were queued.
        let Ok(_worker) = self.workers.acquire().await else {
            return;
        };
        self.queued.fetch_sub(1, Ordering::AcqRel);
        let now = Instant::now();
        if deadline.is_some_and(|d| d <= now) {
            self.ledger.work(Work::Expired, Duration::ZERO);
            let _ = reply.send(Answer::TooLate);
            return;
        }
        let draw = rng::unit(rng::mix(
            self.script.seed ^ SERVICE_SALT ^ seq.wrapping_mul(rng::GOLDEN),
        ));
        let service = rng::between(self.script.service, draw)
            .mul_f64(self.script.slowdown(now.duration_since(self.start)));
        let done = now + service;
        let stop = deadline.filter(|d| *d < done);
        let until = stop.unwrap_or(done);
        self.work_until(until).await;
        let spent = until.duration_since(now);
        if stop.is_some() {
            self.ledger.work(Work::Abandoned, spent);
            let _ = reply.send(Answer::TooLate);
            return;
        }
        let work = if reply.is_closed() {
            Work::Orphaned
        } else {
            Work::Charged
        };
        self.ledger.work(work, spent);
        let at = (!self.fast_forward.load(Ordering::Acquire)).then(|| self.start.elapsed());
        let id = self.ledger.charge(&request.payment_id, at);
        let _ = reply.send(Answer::Charged(Receipt {
            charge_id: format!("ch_{id:06}"),
            payment_id: request.payment_id,
            amount_cents: request.amount_cents,
        }));
    }

    /// Works (sleeps) until `until`, or until fast-forwarded.
    async fn work_until(&self, until: Instant) {
        let skip = self.wake.notified();
        if self.fast_forward.load(Ordering::Acquire) {
            return;
        }
        tokio::select! {
            () = tokio::time::sleep_until(until) => {}
            () = skip => {}
        }
    }
}

/// Counts a queued or running job until dropped.
#[derive(Debug)]
struct Pending(Arc<Ledger>);

impl Drop for Pending {
    fn drop(&mut self) {
        self.0.pending.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::super::script::{Event, Flaky, Window};
    use super::*;

    fn script(workers: usize, queue: usize) -> Script {
        Script {
            seed: 3,
            workers,
            queue,
            service: (Duration::from_millis(100), Duration::from_millis(100)),
            retry_after: Duration::from_secs(1),
            flaky: Flaky::NONE,
            event: Event::Overload {
                window: Window {
                    start: Duration::from_secs(100),
                    len: Duration::from_secs(1),
                },
                factor: 1.0,
            },
        }
    }

    fn charge(id: &str) -> ChargeRequest {
        ChargeRequest {
            payment_id: id.to_owned(),
            amount_cents: 100,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn jobs_queue_behind_busy_workers_and_a_full_queue_refuses() {
        let ledger = Arc::new(Ledger::default());
        let pool = Arc::new(Pool::new(script(1, 2), Instant::now(), Arc::clone(&ledger)));
        let start = Instant::now();
        let mut answers = vec![pool.submit(charge("a"), None).expect("room in the queue")];
        tokio::task::yield_now().await;
        // The first has the worker; two wait (the queue is 2); the fourth is refused.
        for id in ["b", "c"] {
            answers.push(pool.submit(charge(id), None).expect("room in the queue"));
        }
        assert!(pool.submit(charge("d"), None).is_none());
        let mut finished = Vec::new();
        for answer in answers {
            assert!(matches!(answer.await, Ok(Answer::Charged(_))));
            finished.push(start.elapsed());
        }
        let ms = Duration::from_millis;
        assert_eq!(finished, [ms(100), ms(200), ms(300)]);
        let snapshot = ledger.snapshot();
        assert_eq!((snapshot.charged, snapshot.refused), (3, 1));
    }

    #[tokio::test(start_paused = true)]
    async fn abandoned_job_still_charges_unless_its_deadline_reached_the_upstream() {
        let ledger = Arc::new(Ledger::default());
        let pool = Arc::new(Pool::new(script(1, 8), Instant::now(), Arc::clone(&ledger)));
        let deadline = Instant::now() + Duration::from_millis(150);
        // The first caller hangs up at once; its job runs and charges anyway.
        drop(pool.submit(charge("gone"), None));
        // The second propagated a deadline it will not make (it would start at 100 ms
        // and end at 200 ms): stopped at 150 ms, uncharged.
        let late = pool.submit(charge("late"), Some(deadline)).unwrap();
        // The third's deadline passes while it waits: skipped without work.
        let skipped = pool.submit(charge("skipped"), Some(deadline)).unwrap();
        assert!(matches!(late.await, Ok(Answer::TooLate)));
        assert!(matches!(skipped.await, Ok(Answer::TooLate)));
        ledger.settled(Duration::from_secs(1)).await;
        let snapshot = ledger.snapshot();
        assert_eq!(ledger.charges_of("gone"), 1);
        assert_eq!(ledger.charges_of("late") + ledger.charges_of("skipped"), 0);
        assert_eq!(
            (snapshot.orphaned, snapshot.abandoned, snapshot.expired),
            (1, 1, 1)
        );
        // 100 ms charged for nobody, 50 ms on the abandoned one: all of it wasted.
        assert_eq!(snapshot.busy, Duration::from_millis(150));
        assert_eq!(snapshot.wasted, Duration::from_millis(150));
    }

    #[tokio::test(start_paused = true)]
    async fn fast_forward_finishes_queued_jobs_at_once() {
        let ledger = Arc::new(Ledger::default());
        let pool = Arc::new(Pool::new(script(1, 8), Instant::now(), Arc::clone(&ledger)));
        for id in ["a", "b", "c"] {
            drop(pool.submit(charge(id), None));
        }
        tokio::task::yield_now().await;
        let start = Instant::now();
        pool.fast_forward();
        ledger.settled(Duration::from_secs(10)).await;
        assert!(start.elapsed() < Duration::from_millis(50));
        let snapshot = ledger.snapshot();
        assert_eq!(snapshot.charged, 3);
        assert_eq!(snapshot.busy, Duration::from_millis(300));
    }
}
