//! Seeded, stateless randomness: every draw is a hash of the seed and of what is being
//! decided, so a draw does not depend on which task asked first. `splitmix64` (Steele et
//! al.) is enough for a fault script and is stable across crate versions, which a seeded
//! demo needs and `rand`'s generators do not promise.

use std::time::Duration;

/// The 64-bit golden ratio, to spread consecutive integers before mixing.
pub(crate) const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

/// splitmix64's finaliser.
pub(crate) const fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(GOLDEN);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// FNV-1a of a string.
pub(crate) fn hash_str(s: &str) -> u64 {
    s.bytes().fold(0xCBF2_9CE4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01B3)
    })
}

/// A uniform draw in `[0, 1)` from a hash.
pub(crate) fn unit(x: u64) -> f64 {
    (x >> 11) as f64 / (1_u64 << 53) as f64
}

/// The point `at` (in `[0, 1)`) of the way from `range.0` to `range.1`.
pub(crate) fn between(range: (Duration, Duration), at: f64) -> Duration {
    let (low, high) = range;
    low + high.saturating_sub(low).mul_f64(at.clamp(0.0, 1.0))
}
