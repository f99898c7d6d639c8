//! The ambient deadline: scopes, enforcement, propagation across `tokio::spawn`, telemetry,
//! and the wire codecs.

mod codec;
mod enforce;
mod propagate;
mod telemetry;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// Sets its flag when dropped: proves a future was dropped (its work stopped).
pub(crate) struct DropFlag(pub(crate) Arc<AtomicBool>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// Counts polls of a future that never completes.
pub(crate) async fn counted_pending(polls: Arc<AtomicUsize>) {
    std::future::poll_fn(|_| {
        polls.fetch_add(1, Ordering::SeqCst);
        std::task::Poll::<()>::Pending
    })
    .await;
}
