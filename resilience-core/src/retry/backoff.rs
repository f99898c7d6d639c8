//! How long to wait before each retry: [`Backoff`] (the curve) and [`Jitter`] (the
//! randomness that spreads clients apart), after the AWS Architecture Blog's
//! "Exponential Backoff and Jitter".

use std::time::Duration;

/// The delay curve before each retry, capped by the policy's
/// [`max_delay`](super::RetryPolicyBuilder::max_delay).
///
/// `k` is the retry number: the delay before the first retry (the second attempt) is
/// `k = 1`.
///
/// | backoff | delay before retry `k` |
/// |---|---|
/// | [`constant(d)`](Backoff::constant) | `d` |
/// | [`linear(base, step)`](Backoff::linear) | `base + step * (k - 1)` |
/// | [`exponential(base)`](Backoff::exponential) | `base * 2^(k - 1)` |
/// | [`exponential_with_factor(base, f)`](Backoff::exponential_with_factor) | `base * f^(k - 1)` |
///
/// The factor is checked when the policy is built: NaN, infinite or below 1 is a
/// [`ConfigError`](crate::ConfigError), never a panic.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Backoff {
    /// The same delay before every retry.
    Constant {
        /// The delay.
        delay: Duration,
    },
    /// A delay growing by `step` per retry.
    Linear {
        /// The delay before the first retry.
        base: Duration,
        /// Added per further retry.
        step: Duration,
    },
    /// A delay multiplied by `factor` per retry.
    Exponential {
        /// The delay before the first retry.
        base: Duration,
        /// The multiplier, finite and at least 1.
        factor: f64,
    },
}

impl Backoff {
    /// The same delay before every retry.
    pub const fn constant(delay: Duration) -> Self {
        Backoff::Constant { delay }
    }

    /// `base`, then `base + step`, `base + 2 * step`, ...
    pub const fn linear(base: Duration, step: Duration) -> Self {
        Backoff::Linear { base, step }
    }

    /// `base`, then doubling: `2 * base`, `4 * base`, ...
    pub const fn exponential(base: Duration) -> Self {
        Backoff::Exponential { base, factor: 2.0 }
    }

    /// `base`, then multiplied by `factor` per retry.
    pub const fn exponential_with_factor(base: Duration, factor: f64) -> Self {
        Backoff::Exponential { base, factor }
    }

    /// The delay before the first retry.
    pub const fn base(&self) -> Duration {
        match *self {
            Backoff::Constant { delay } => delay,
            Backoff::Linear { base, .. } | Backoff::Exponential { base, .. } => base,
        }
    }

    /// The delay before retry `k` (1-based), without jitter, capped at `cap`.
    pub fn delay(&self, k: u32, cap: Duration) -> Duration {
        let n = k.saturating_sub(1);
        let d = match *self {
            Backoff::Constant { delay } => delay,
            Backoff::Linear { base, step } => step
                .checked_mul(n)
                .and_then(|s| base.checked_add(s))
                .unwrap_or(cap),
            Backoff::Exponential { base, factor } => {
                let exp = i32::try_from(n).unwrap_or(i32::MAX);
                let secs = base.as_secs_f64() * factor.powi(exp);
                // NaN and overflow (factor^n = inf) both end at the cap.
                Duration::try_from_secs_f64(secs).unwrap_or(cap)
            }
        };
        d.min(cap)
    }
}

/// Randomness added to each delay so that clients that failed together do not retry
/// together. `d` is the [`Backoff`] delay, `base` its base, `cap` the policy's
/// `max_delay`, `prev` the previous delay of the same call (initially `base`).
///
/// | jitter | delay | bounds |
/// |---|---|---|
/// | [`None`](Jitter::None) | `d` | exactly `d` |
/// | [`Full`](Jitter::Full) | `random(0, d)` | `[0, d]` |
/// | [`Equal`](Jitter::Equal) | `d / 2 + random(0, d / 2)` | `[d / 2, d]` |
/// | [`Decorrelated`](Jitter::Decorrelated) | `min(cap, random(base, prev * 3))` | `[min(base, cap), cap]` |
///
/// Decorrelated jitter grows by itself (each delay depends on the previous one), so it
/// ignores the backoff's curve and uses only its base and the cap.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Jitter {
    /// No randomness: the backoff's delay exactly.
    None,
    /// "Full jitter": uniform in `[0, d]`. Spreads retries best; the AWS article's
    /// recommendation and the default here (as the AWS SDKs).
    #[default]
    Full,
    /// "Equal jitter": half the delay fixed, half random.
    Equal,
    /// "Decorrelated jitter": `min(cap, random(base, prev * 3))`.
    Decorrelated,
}

impl Jitter {
    /// A stable `snake_case` identifier.
    pub const fn as_str(self) -> &'static str {
        match self {
            Jitter::None => "none",
            Jitter::Full => "full",
            Jitter::Equal => "equal",
            Jitter::Decorrelated => "decorrelated",
        }
    }

    /// The jittered delay before retry `k`; `prev` is the previous delay of the call
    /// (`backoff.base()` before the first retry) and `rng` the call's random source.
    pub(crate) fn apply(
        self,
        backoff: &Backoff,
        k: u32,
        cap: Duration,
        prev: Duration,
        rng: &mut FastRng,
    ) -> Duration {
        match self {
            Jitter::None => backoff.delay(k, cap),
            Jitter::Full => rng.duration_between(Duration::ZERO, backoff.delay(k, cap)),
            Jitter::Equal => {
                let d = backoff.delay(k, cap);
                let half = d / 2;
                half + rng.duration_between(Duration::ZERO, d - half)
            }
            Jitter::Decorrelated => {
                let base = backoff.base().min(cap);
                let high = prev.saturating_mul(3).max(base);
                rng.duration_between(base, high).min(cap)
            }
        }
    }
}

/// A small, fast, seedable random source (wyrand): one per call, no lock, no shared
/// state. Not cryptographic; it only spreads delays.
#[derive(Clone, Debug)]
pub(crate) struct FastRng {
    state: u64,
}

impl FastRng {
    /// A generator from `seed`; equal seeds give equal sequences.
    pub(crate) const fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    /// The next 64 random bits.
    pub(crate) fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0xa076_1d64_78bd_642f);
        let t = u128::from(self.state) * u128::from(self.state ^ 0xe703_7ed1_a0b4_28db);
        ((t >> 64) as u64) ^ (t as u64)
    }

    /// A duration uniform in `[low, high]` (`low` if `high <= low`), at nanosecond
    /// resolution.
    pub(crate) fn duration_between(&mut self, low: Duration, high: Duration) -> Duration {
        if high <= low {
            return low;
        }
        let span = (high - low).as_nanos();
        // Multiply-shift maps 64 random bits onto [0, span] with negligible bias.
        let offset = (u128::from(self.next_u64()) * (span + 1)) >> 64;
        let offset = u64::try_from(offset).unwrap_or(u64::MAX);
        low.saturating_add(Duration::from_nanos(offset)).min(high)
    }
}

/// Spreads a counter into a well-mixed seed (splitmix64's finaliser).
pub(crate) const fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// Any curve: constant, linear or exponential, from up to 2 s.
    fn any_backoff() -> impl Strategy<Value = Backoff> {
        (0_u8..3, 0_u64..2_000, 0_u64..2_000, 1.0_f64..4.0).prop_map(|(curve, b, s, f)| {
            let (base, step) = (Duration::from_millis(b), Duration::from_millis(s));
            match curve {
                0 => Backoff::constant(base),
                1 => Backoff::linear(base, step),
                _ => Backoff::exponential_with_factor(base, f),
            }
        })
    }

    const JITTERS: [Jitter; 4] = [
        Jitter::None,
        Jitter::Full,
        Jitter::Equal,
        Jitter::Decorrelated,
    ];

    proptest! {
        #[test]
        fn every_delay_is_within_its_formulas_bounds_and_the_cap(
            backoff in any_backoff(),
            jitter in proptest::sample::select(&JITTERS[..]),
            extra_cap_ms in 0_u64..10_000,
            k in 1_u32..64,
            prev_ms in 0_u64..20_000,
            seed in any::<u64>(),
        ) {
            let cap = backoff.base() + Duration::from_millis(extra_cap_ms);
            let prev = Duration::from_millis(prev_ms);
            let mut rng = FastRng::new(seed);
            let d = backoff.delay(k, cap);
            let delay = jitter.apply(&backoff, k, cap, prev, &mut rng);
            prop_assert!(delay <= cap, "{delay:?} > cap {cap:?}");
            match jitter {
                Jitter::None => prop_assert_eq!(delay, d),
                Jitter::Full => prop_assert!(delay <= d),
                Jitter::Equal => prop_assert!(delay >= d / 2 && delay <= d),
                Jitter::Decorrelated => {
                    let base = backoff.base().min(cap);
                    prop_assert!(delay >= base, "{delay:?} < base {base:?}");
                    prop_assert!(delay <= (prev * 3).max(base));
                }
            }
        }
    }

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn curves_match_their_formulas_and_stop_at_the_cap() {
        let cap = 1000 * MS;
        let exp = Backoff::exponential(100 * MS);
        let got: Vec<_> = (1..=6).map(|k| exp.delay(k, cap)).collect();
        assert_eq!(got, [100 * MS, 200 * MS, 400 * MS, 800 * MS, cap, cap]);
        let lin = Backoff::linear(100 * MS, 50 * MS);
        assert_eq!(lin.delay(3, cap), 200 * MS);
        assert_eq!(Backoff::constant(70 * MS).delay(9, cap), 70 * MS);
        assert_eq!(exp.delay(u32::MAX, cap), cap, "huge exponents saturate");
        assert_eq!(lin.delay(u32::MAX, cap), cap);
    }

    #[test]
    fn rng_is_deterministic_per_seed_and_stays_in_bounds() {
        let (mut a, mut b) = (FastRng::new(7), FastRng::new(7));
        for _ in 0..1000 {
            let d = a.duration_between(10 * MS, 20 * MS);
            assert_eq!(d, b.duration_between(10 * MS, 20 * MS));
            assert!((10 * MS..=20 * MS).contains(&d));
        }
    }
}
