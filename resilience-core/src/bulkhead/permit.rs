//! [`Permit`]: the RAII guard of one bulkhead slot.

use std::fmt;

use super::Bulkhead;

/// One slot of a [`Bulkhead`], held while the protected call runs and given back when
/// dropped.
///
/// Dropping is the only way to release it, so a call that returns, fails, panics or is
/// cancelled (its future dropped) gives its slot back the same way; if callers are
/// waiting, the slot passes straight to the oldest of them.
///
/// A `Permit` holds a clone of its bulkhead, so it is `'static` and can travel with a
/// response future or a spawned task.
#[must_use = "the slot is released as soon as the permit is dropped"]
pub struct Permit {
    bulkhead: Bulkhead,
}

impl Permit {
    /// Takes ownership of a slot already counted as in flight.
    pub(super) fn new(bulkhead: Bulkhead) -> Self {
        bulkhead.shared.telemetry.in_flight.increment(1.0);
        Self { bulkhead }
    }

    /// The bulkhead this permit belongs to.
    pub fn bulkhead(&self) -> &Bulkhead {
        &self.bulkhead
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        let shared = &self.bulkhead.shared;
        shared.telemetry.in_flight.decrement(1.0);
        shared.slots.release();
    }
}

impl fmt::Debug for Permit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Permit")
            .field("bulkhead", &self.bulkhead.name().as_str())
            .finish()
    }
}
