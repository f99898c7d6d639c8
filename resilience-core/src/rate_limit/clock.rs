//! The limiters' clock: nanoseconds since the limiter was built, read on every check.
//!
//! A check is a clock read and a compare-and-swap, and the clock read is most of it:
//! `clock_gettime`, behind `std::time::Instant::now` and tokio's clock, costs two to three
//! times a read of the CPU's timestamp counter. So limiters read the counter (through
//! quanta, calibrated against the monotonic clock, as governor does) — unless tokio's
//! clock is paused when the limiter is built, as in a `start_paused` test. Then they
//! follow tokio's clock, and `tokio::time::advance` moves them. A paused clock is frozen:
//! two reads in a row return the same instant, which a running clock never does at
//! nanosecond resolution (where it might, the only cost of mistaking it for paused is the
//! slower read).

use tokio::time::Instant;

pub(crate) enum Clock {
    /// tokio's clock, paused or not: nanoseconds since `Instant`.
    Tokio(Instant),
    /// The CPU's counter: `(raw - base) × scale >> 32` nanoseconds.
    Counter {
        clock: quanta::Clock,
        base: u64,
        scale: u64,
    },
}

/// Nanoseconds per 2³² counter ticks, as quanta calibrated them.
fn scale(clock: &quanta::Clock) -> u64 {
    clock.delta_as_nanos(0, 1 << 32)
}

impl Clock {
    /// The clock for a limiter built now; see the [module docs](self).
    pub(crate) fn new() -> Self {
        let first = Instant::now();
        if Instant::now() == first {
            return Clock::Tokio(first);
        }
        let clock = quanta::Clock::new();
        let base = clock.raw();
        let scale = scale(&clock);
        Clock::Counter { clock, base, scale }
    }

    /// Nanoseconds since the limiter was built (u64 nanoseconds last 584 years).
    #[inline]
    pub(crate) fn now(&self) -> u64 {
        match self {
            Clock::Tokio(base) => Instant::now().saturating_duration_since(*base).as_nanos() as u64,
            Clock::Counter { clock, base, scale } => {
                // The counter only moves forward; a reading from a core whose counter
                // lags a little reads as the base.
                let ticks = clock.raw().saturating_sub(*base);
                ((u128::from(ticks) * u128::from(*scale)) >> 32) as u64
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_paused_tokio_clock_is_followed() {
        let clock = Clock::new();
        assert!(matches!(clock, Clock::Tokio(_)));
        tokio::time::advance(std::time::Duration::from_nanos(1234)).await;
        assert_eq!(clock.now(), 1234);
    }

    #[test]
    fn the_counter_scale_agrees_with_quanta() {
        let clock = quanta::Clock::new();
        let ticks: u64 = 3_000_000_007;
        let ours = ((u128::from(ticks) * u128::from(scale(&clock))) >> 32) as u64;
        let theirs = clock.delta_as_nanos(0, ticks);
        assert!(
            ours.abs_diff(theirs) <= 1 + theirs / 1_000_000,
            "{ours} vs {theirs}"
        );
    }

    #[test]
    fn a_running_clock_is_read_from_the_counter_and_moves_forward() {
        let clock = Clock::new();
        let first = clock.now();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let later = clock.now();
        assert!(later >= first + 1_000_000, "{first} then {later}");
    }
}
