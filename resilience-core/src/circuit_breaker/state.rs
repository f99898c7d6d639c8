//! [`State`] and the packed state word every admission decision reads.

use std::fmt;

use crate::telemetry::circuit_state;

/// The state of a circuit breaker.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum State {
    /// Calls flow; outcomes are recorded in the sliding window.
    Closed,
    /// Calls are rejected with [`ErrorKind::CircuitOpen`](crate::ErrorKind::CircuitOpen)
    /// until the open duration has passed.
    Open,
    /// A bounded number of probe calls are admitted to test the dependency.
    HalfOpen,
    /// Opened by an operator ([`force_open`](super::CircuitBreaker::force_open)); stays
    /// open until [`reset`](super::CircuitBreaker::reset).
    ForcedOpen,
    /// Disabled by an operator ([`disable`](super::CircuitBreaker::disable)): admits every
    /// call and records nothing until [`reset`](super::CircuitBreaker::reset).
    Disabled,
}

impl State {
    /// Every state, in gauge-value order.
    pub const ALL: [State; 5] = [
        State::Closed,
        State::Open,
        State::HalfOpen,
        State::ForcedOpen,
        State::Disabled,
    ];

    /// The `from` / `to` label value (see [`telemetry::circuit_state`](crate::telemetry::circuit_state)).
    pub const fn as_str(self) -> &'static str {
        match self {
            State::Closed => circuit_state::CLOSED,
            State::Open => circuit_state::OPEN,
            State::HalfOpen => circuit_state::HALF_OPEN,
            State::ForcedOpen => circuit_state::FORCED_OPEN,
            State::Disabled => circuit_state::DISABLED,
        }
    }

    /// The value of the `resilience_circuit_state` gauge.
    pub const fn gauge_value(self) -> f64 {
        match self {
            State::Closed => circuit_state::CLOSED_VALUE,
            State::Open => circuit_state::OPEN_VALUE,
            State::HalfOpen => circuit_state::HALF_OPEN_VALUE,
            State::ForcedOpen => circuit_state::FORCED_OPEN_VALUE,
            State::Disabled => circuit_state::DISABLED_VALUE,
        }
    }

    /// `true` for the states that reject calls ([`Open`](State::Open),
    /// [`ForcedOpen`](State::ForcedOpen)); half-open rejects only past its probe budget.
    pub const fn is_open(self) -> bool {
        matches!(self, State::Open | State::ForcedOpen)
    }

    const fn index(self) -> u64 {
        match self {
            State::Closed => 0,
            State::Open => 1,
            State::HalfOpen => 2,
            State::ForcedOpen => 3,
            State::Disabled => 4,
        }
    }

    const fn from_index(i: u64) -> State {
        match i {
            0 => State::Closed,
            1 => State::Open,
            2 => State::HalfOpen,
            3 => State::ForcedOpen,
            _ => State::Disabled,
        }
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A state serializes as its label value ([`State::as_str`]): `"half_open"`.
#[cfg(feature = "serde")]
impl serde::Serialize for State {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// The most probes a half-open breaker can track (16 bits each for in-flight and successes).
pub(crate) const MAX_HALF_OPEN_CALLS: u32 = (1 << 16) - 1;

const STATE_BITS: u32 = 3;
const COUNT_BITS: u32 = 16;
const IN_FLIGHT_SHIFT: u32 = STATE_BITS;
const SUCCESS_SHIFT: u32 = STATE_BITS + COUNT_BITS;
const GEN_SHIFT: u32 = STATE_BITS + 2 * COUNT_BITS;
const STATE_MASK: u64 = (1 << STATE_BITS) - 1;
const COUNT_MASK: u64 = (1 << COUNT_BITS) - 1;

/// One `u64` holding the state, its generation and the half-open probe counters, so that
/// admitting a probe and leaving a state are single compare-and-swaps on the same word:
/// no race can admit a probe into a state that has already been left.
///
/// | bits | field |
/// |---|---|
/// | 0..3 | state |
/// | 3..19 | half-open probes in flight (of any generation) |
/// | 19..35 | half-open probes that succeeded |
/// | 35..64 | generation, +1 on every transition (wraps) |
///
/// A permit remembers the generation it was admitted in; an outcome that arrives after
/// the breaker has moved on is not recorded.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Word(pub(crate) u64);

impl Word {
    pub(crate) const fn new(state: State, generation: u64) -> Self {
        Word(state.index() | (generation << GEN_SHIFT))
    }

    pub(crate) const fn state(self) -> State {
        State::from_index(self.0 & STATE_MASK)
    }

    pub(crate) const fn generation(self) -> u64 {
        self.0 >> GEN_SHIFT
    }

    pub(crate) const fn in_flight(self) -> u32 {
        ((self.0 >> IN_FLIGHT_SHIFT) & COUNT_MASK) as u32
    }

    pub(crate) const fn successes(self) -> u32 {
        ((self.0 >> SUCCESS_SHIFT) & COUNT_MASK) as u32
    }

    /// The same state and generation (the "epoch" a permit belongs to).
    pub(crate) const fn same_epoch(self, other: Word) -> bool {
        (self.0 & STATE_MASK) == (other.0 & STATE_MASK) && self.generation() == other.generation()
    }

    /// The next state, one generation later, with no probe successes and the same
    /// probes in flight (they hold their slots until they end, whatever the state).
    pub(crate) const fn next(self, state: State) -> Self {
        Word::new(
            state,
            self.generation().wrapping_add(1) & (u64::MAX >> GEN_SHIFT),
        )
        .with_probes(self.in_flight(), 0)
    }

    pub(crate) const fn with_probes(self, in_flight: u32, successes: u32) -> Self {
        let cleared = self.0 & !((COUNT_MASK << IN_FLIGHT_SHIFT) | (COUNT_MASK << SUCCESS_SHIFT));
        Word(
            cleared
                | ((in_flight as u64 & COUNT_MASK) << IN_FLIGHT_SHIFT)
                | ((successes as u64 & COUNT_MASK) << SUCCESS_SHIFT),
        )
    }
}

impl fmt::Debug for Word {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Word")
            .field("state", &self.state())
            .field("generation", &self.generation())
            .field("in_flight", &self.in_flight())
            .field("successes", &self.successes())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn word_fields_round_trip_and_generations_wrap() {
        let w = Word::new(State::HalfOpen, 7).with_probes(3, MAX_HALF_OPEN_CALLS);
        assert_eq!(w.state(), State::HalfOpen);
        assert_eq!(w.generation(), 7);
        assert_eq!(w.in_flight(), 3);
        assert_eq!(w.successes(), MAX_HALF_OPEN_CALLS);
        let top = Word::new(State::Open, u64::MAX >> GEN_SHIFT);
        assert_eq!(top.next(State::HalfOpen).generation(), 0);
        assert!(w.same_epoch(Word::new(State::HalfOpen, 7)));
        assert!(!w.same_epoch(w.next(State::HalfOpen)));
        for s in State::ALL {
            assert_eq!(Word::new(s, 1).state(), s);
        }
    }
}
