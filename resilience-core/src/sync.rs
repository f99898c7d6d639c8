//! The synchronisation primitives of the lock-free state machines (circuit breaker state
//! and windows, retry budget, bulkhead slots): the standard library's, or loom's when
//! built with `--cfg loom`, so that loom can explore every interleaving of the models in
//! those modules' `loom` tests. A re-export, so normal builds are unchanged.

#[cfg(loom)]
pub(crate) use loom::sync::Mutex;
#[cfg(loom)]
pub(crate) use loom::sync::atomic;
#[cfg(not(loom))]
pub(crate) use std::sync::Mutex;
#[cfg(not(loom))]
pub(crate) use std::sync::atomic;

/// Lets another thread run while spinning on a value it will change.
#[inline]
pub(crate) fn spin_loop() {
    #[cfg(loom)]
    loom::thread::yield_now();
    #[cfg(not(loom))]
    std::hint::spin_loop();
}

/// Gives the processor to another thread while waiting on one that is mid-update.
#[inline]
pub(crate) fn yield_now() {
    #[cfg(loom)]
    loom::thread::yield_now();
    #[cfg(not(loom))]
    std::thread::yield_now();
}
