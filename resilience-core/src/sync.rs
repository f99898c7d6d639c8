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

/// Stripes of a striped counter (the retry budget's deposits, a hedge's latency counts):
/// the counts a hot path adds to are kept `STRIPES` times over, on separate cache lines,
/// and summed where they are read (rarely), so that threads counting at once mostly
/// write lines of their own instead of taking one line from each other on every call.
pub(crate) const STRIPES: usize = 4;

#[cfg(not(loom))]
std::thread_local! {
    static STRIPE: std::cell::Cell<usize> = const { std::cell::Cell::new(usize::MAX) };
}
#[cfg(not(loom))]
static NEXT_STRIPE: atomic::AtomicUsize = atomic::AtomicUsize::new(0);

// Under loom, per model thread and reset with every execution, so that the models see
// threads in different stripes as well as in one.
#[cfg(loom)]
loom::thread_local! {
    static STRIPE: std::cell::Cell<usize> = std::cell::Cell::new(usize::MAX);
}
#[cfg(loom)]
loom::lazy_static! {
    static ref NEXT_STRIPE: atomic::AtomicUsize = atomic::AtomicUsize::new(0);
}

/// This thread's stripe, in `0..STRIPES`: threads take the stripes in turn, in the order
/// they first ask.
#[inline]
pub(crate) fn stripe() -> usize {
    STRIPE.with(|cell| {
        let stripe = cell.get();
        if stripe < STRIPES {
            return stripe;
        }
        let stripe = NEXT_STRIPE.fetch_add(1, atomic::Ordering::Relaxed) % STRIPES;
        cell.set(stripe);
        stripe
    })
}
