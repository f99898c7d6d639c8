//! A backend whose every call is counted and whose live attempts are tracked.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use resilience_core::hedge::{Hedge, HedgeBuilder};
use resilience_core::{Error, ErrorKind};

pub(crate) const MS: Duration = Duration::from_millis(1);

/// A fixed-delay hedge without a budget.
pub(crate) fn fixed(delay: Duration, max_hedges: u32) -> HedgeBuilder {
    Hedge::builder()
        .delay(delay)
        .max_hedges(max_hedges)
        .no_budget()
}

/// How long each call takes: call number `k` takes `took_k`, every other call `others`.
pub(crate) fn one_differs(
    k: usize,
    took_k: Duration,
    others: Duration,
) -> impl Fn(usize) -> Duration {
    move |n| if n == k { took_k } else { others }
}

/// Counts calls and the attempts still alive (made and not yet dropped).
#[derive(Clone, Default)]
pub(crate) struct Backend {
    calls: Arc<AtomicUsize>,
    live: Arc<AtomicUsize>,
}

/// Held by an attempt; dropping it marks the attempt gone.
pub(crate) struct Alive(Arc<AtomicUsize>);

impl Drop for Alive {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Backend {
    /// Starts a call: its 0-based index, and a guard to hold until the attempt ends.
    pub(crate) fn enter(&self) -> (usize, Alive) {
        self.live.fetch_add(1, Ordering::SeqCst);
        (
            self.calls.fetch_add(1, Ordering::SeqCst),
            Alive(Arc::clone(&self.live)),
        )
    }

    /// A call that answers `Ok(index)` after `took(index)`, or fails (transient) when
    /// `fails(index)`.
    pub(crate) fn call(
        &self,
        took: impl Fn(usize) -> Duration,
        fails: impl Fn(usize) -> bool,
    ) -> Pin<Box<dyn Future<Output = Result<usize, Error>> + Send>> {
        let (n, alive) = self.enter();
        let took = took(n);
        let fails = fails(n);
        Box::pin(async move {
            let _alive = alive;
            tokio::time::sleep(took).await;
            if fails {
                Err(Error::new(ErrorKind::Inner).with_field("call", n as u64))
            } else {
                Ok(n)
            }
        })
    }

    pub(crate) fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    pub(crate) fn live(&self) -> usize {
        self.live.load(Ordering::SeqCst)
    }
}
