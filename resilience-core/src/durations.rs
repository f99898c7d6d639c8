//! Durations as plain integers, for the settings that atomics hold so that a hot path
//! reads them without a lock or a reference count.

use std::time::Duration;

/// `d` in nanoseconds, saturating (past 584 years).
pub(crate) fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// Bits of a packed duration holding its nanoseconds.
const NANO_BITS: u32 = 30;

/// A duration as one atomic word: whole seconds above [`NANO_BITS`] bits of
/// nanoseconds, so that reading it back is a shift and a mask, not a division. Saturates
/// at 2^34 s (544 years: a limit as good as none); 0 is none (or zero).
pub(crate) fn pack(d: Option<Duration>) -> u64 {
    let Some(d) = d else { return 0 };
    const MAX_SECS: u64 = (1 << (64 - NANO_BITS)) - 1;
    match d.as_secs() {
        secs if secs > MAX_SECS => (MAX_SECS << NANO_BITS) | 999_999_999,
        secs => (secs << NANO_BITS) | u64::from(d.subsec_nanos()),
    }
}

/// The duration of [`pack`].
#[inline]
pub(crate) fn unpack(word: u64) -> Option<Duration> {
    match word {
        0 => None,
        w => Some(Duration::new(
            w >> NANO_BITS,
            (w & ((1 << NANO_BITS) - 1)) as u32,
        )),
    }
}
