//! Uniform draws without a `rand` dependency, where statistics need no more: splitmix64
//! (Steele, Lea and Flood) over a counter the caller keeps.

/// The splitmix64 output for counter value `state` (advance the counter by
/// [`GAMMA`] between draws).
pub(crate) fn mix(state: u64) -> u64 {
    let mut z = state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The counter step of splitmix64.
pub(crate) const GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

/// A uniform `f64` in `[0, 1)` from 53 bits of [`mix`]'s output.
pub(crate) fn unit(state: u64) -> f64 {
    (mix(state) >> 11) as f64 / (1u64 << 53) as f64
}
