//! An upstream that counts how many calls run at once.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Counts concurrent calls, the most ever seen at once, and calls abandoned mid-way.
#[derive(Default)]
pub(crate) struct Upstream {
    current: AtomicUsize,
    peak: AtomicUsize,
    finished: AtomicUsize,
    abandoned: AtomicUsize,
}

impl Upstream {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// A call that yields `steps` times while it is in flight.
    pub(crate) async fn call(self: Arc<Self>, steps: usize) {
        let now = self.current.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(now, Ordering::SeqCst);
        let guard = InCall(&self, false);
        for _ in 0..steps {
            tokio::task::yield_now().await;
        }
        let mut guard = guard;
        guard.1 = true;
    }

    pub(crate) fn peak(&self) -> usize {
        self.peak.load(Ordering::SeqCst)
    }

    pub(crate) fn current(&self) -> usize {
        self.current.load(Ordering::SeqCst)
    }

    pub(crate) fn finished(&self) -> usize {
        self.finished.load(Ordering::SeqCst)
    }

    pub(crate) fn abandoned(&self) -> usize {
        self.abandoned.load(Ordering::SeqCst)
    }
}

/// Leaves the call on drop, counting whether it finished or was cancelled.
struct InCall<'a>(&'a Upstream, bool);

impl Drop for InCall<'_> {
    fn drop(&mut self) {
        self.0.current.fetch_sub(1, Ordering::SeqCst);
        if self.1 {
            self.0.finished.fetch_add(1, Ordering::SeqCst);
        } else {
            self.0.abandoned.fetch_add(1, Ordering::SeqCst);
        }
    }
}

/// A small deterministic pseudo-random sequence (xorshift), seeded per task.
pub(crate) fn pseudo_random(seed: u64) -> impl FnMut(u64) -> u64 {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    move |bound| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % bound
    }
}

/// The outcome of an `acquire` decided without waiting (not queued, so ready on its
/// first poll, which needs no waker).
pub(crate) fn decided(
    mut acquire: resilience_core::bulkhead::Acquire,
) -> Result<resilience_core::bulkhead::Permit, resilience_core::Error> {
    use std::future::Future;
    use std::task::{Context, Poll, Waker};
    assert!(!acquire.is_waiting(), "the caller was queued");
    match std::pin::Pin::new(&mut acquire).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(outcome) => outcome,
        Poll::Pending => panic!("not decided at `acquire`"),
    }
}
