//! Deadline propagation: the server layer, the client layer, gRPC answers, and a chain of
//! three real services on 127.0.0.1.

mod client;
mod e2e;
mod server;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Sets its flag when dropped: proves a handler's future was dropped (its work stopped).
pub(crate) struct DropFlag(pub(crate) Arc<AtomicBool>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}
