//! Wire formats for a deadline's remaining time: gRPC's `grpc-timeout` and a header in
//! milliseconds. Pure functions on bytes and [`Duration`]s, with no HTTP dependency;
//! `resilience-tower` puts them in headers.
//!
//! ```
//! use std::time::Duration;
//! use resilience_core::deadline::codec::{self, DecodeError};
//!
//! // gRPC: at most 8 digits and a unit; encode picks the finest unit that fits.
//! assert_eq!(codec::encode_grpc_timeout(Duration::from_millis(250)).as_str(), "250000u");
//! assert_eq!(codec::encode_grpc_timeout(Duration::from_secs(30)).as_str(), "30000000u");
//! assert_eq!(codec::decode_grpc_timeout(b"5S"), Ok(Duration::from_secs(5)));
//! assert_eq!(codec::decode_grpc_timeout(b"123456789m"), Err(DecodeError::TooManyDigits { max: 8 }));
//!
//! // Milliseconds, as a decimal integer.
//! assert_eq!(codec::encode_millis(Duration::from_micros(1_999_999)).as_str(), "1999");
//! assert_eq!(codec::decode_millis(b"1500"), Ok(Duration::from_millis(1500)));
//! assert_eq!(codec::decode_millis(b"1.5"), Err(DecodeError::NotDigits));
//! ```
//!
//! # Precision and bounds
//!
//! Encoding rounds *down* to the unit it picks (an 8-digit value in nanoseconds covers
//! up to 0.1 s; in microseconds up to 100 s; and so on), so the receiver never gets more
//! time than the sender had. Durations past the largest value the format can carry
//! saturate: `99999999H` for gRPC (about 11 400 years), `9999999999` ms (10 digits, about
//! 115 days, the limit the Connect protocol sets) for milliseconds.
//!
//! Decoding accepts exactly what the formats allow, after trimming spaces and tabs
//! (optional whitespace around an HTTP field value): digits only, at most 8 (gRPC) or 10
//! (milliseconds). Every accepted value fits in a [`Duration`] without overflow — the
//! largest, `99999999H`, is about 3.6 × 10¹¹ seconds — and everything else is a
//! [`DecodeError`], never a panic.

use std::fmt;
use std::time::Duration;

/// The header gRPC uses for the caller's remaining time.
pub const GRPC_TIMEOUT: &str = "grpc-timeout";

/// The default header for the remaining time in milliseconds on plain HTTP requests.
///
/// `connect-timeout-ms` is the Connect protocol's timeout header (connectrpc.com): a
/// published, vendor-neutral header with exactly these semantics (the caller's remaining
/// time in whole milliseconds, at most 10 digits), already read and written by the Connect
/// implementations for Go, TypeScript, Kotlin and Swift. An invented `x-…-timeout-ms`
/// name would be understood only by services using this crate. The name is configurable
/// on both layers.
pub const TIMEOUT_MS: &str = "connect-timeout-ms";

/// The most digits a `grpc-timeout` value may have.
pub const GRPC_MAX_DIGITS: u8 = 8;

/// The most digits a millisecond value may have.
pub const MILLIS_MAX_DIGITS: u8 = 10;

const GRPC_MAX_VALUE: u128 = 99_999_999;
const MILLIS_MAX_VALUE: u128 = 9_999_999_999;

/// gRPC units from the finest, with their length in nanoseconds.
const GRPC_UNITS: [(u8, u128); 6] = [
    (b'n', 1),
    (b'u', 1_000),
    (b'm', 1_000_000),
    (b'S', 1_000_000_000),
    (b'M', 60_000_000_000),
    (b'H', 3_600_000_000_000),
];

/// Why a timeout value could not be decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecodeError {
    /// The value is empty (or only whitespace).
    Empty,
    /// A `grpc-timeout` value ends in a digit: the unit is missing.
    MissingUnit,
    /// A `grpc-timeout` value ends in something other than `H M S m u n`.
    UnknownUnit,
    /// A `grpc-timeout` value has a unit but no digits before it.
    MissingDigits,
    /// The value contains something other than the ASCII digits `0`–`9`.
    NotDigits,
    /// The value has more digits than the format allows.
    TooManyDigits {
        /// The most digits allowed: 8 for gRPC, 10 for milliseconds.
        max: u8,
    },
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Empty => f.write_str("value is empty"),
            DecodeError::MissingUnit => f.write_str("unit is missing (one of H, M, S, m, u, n)"),
            DecodeError::UnknownUnit => f.write_str("unit is not one of H, M, S, m, u, n"),
            DecodeError::MissingDigits => f.write_str("no digits before the unit"),
            DecodeError::NotDigits => f.write_str("value is not a decimal integer"),
            DecodeError::TooManyDigits { max } => write!(f, "value has more than {max} digits"),
        }
    }
}

impl std::error::Error for DecodeError {}

/// An encoded timeout: at most 10 ASCII bytes on the stack, no allocation.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Encoded {
    buf: [u8; 11],
    len: u8,
}

impl Encoded {
    fn new(value: u128, unit: Option<u8>) -> Self {
        let mut digits = [0u8; 11];
        let mut n = 0;
        let mut v = value;
        loop {
            // `v % 10` is below 10, so the cast cannot truncate.
            digits[n] = b'0' + (v % 10) as u8;
            n += 1;
            v /= 10;
            if v == 0 {
                break;
            }
        }
        let mut buf = [0u8; 11];
        for (i, d) in digits[..n].iter().rev().enumerate() {
            buf[i] = *d;
        }
        if let Some(unit) = unit {
            buf[n] = unit;
            n += 1;
        }
        Self { buf, len: n as u8 }
    }

    /// The encoded value.
    pub fn as_str(&self) -> &str {
        // Only ASCII digits and unit letters are ever written.
        std::str::from_utf8(self.as_bytes()).unwrap_or_default()
    }

    /// The encoded value as bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..usize::from(self.len)]
    }
}

impl AsRef<str> for Encoded {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl fmt::Display for Encoded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Encoded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

/// Encodes `timeout` as a `grpc-timeout` value in the finest unit whose value fits in 8
/// digits, rounding down; saturates at `99999999H`.
pub fn encode_grpc_timeout(timeout: Duration) -> Encoded {
    let nanos = timeout.as_nanos();
    for (unit, unit_nanos) in GRPC_UNITS {
        let value = nanos / unit_nanos;
        if value <= GRPC_MAX_VALUE {
            return Encoded::new(value, Some(unit));
        }
    }
    Encoded::new(GRPC_MAX_VALUE, Some(b'H'))
}

/// Decodes a `grpc-timeout` value: 1 to 8 ASCII digits followed by one of `H` (hours),
/// `M` (minutes), `S` (seconds), `m` (milliseconds), `u` (microseconds), `n`
/// (nanoseconds). Surrounding spaces and tabs are ignored.
pub fn decode_grpc_timeout(value: &[u8]) -> Result<Duration, DecodeError> {
    let value = trim(value);
    let (&unit, digits) = value.split_last().ok_or(DecodeError::Empty)?;
    if unit.is_ascii_digit() {
        return Err(DecodeError::MissingUnit);
    }
    if digits.is_empty() {
        return Err(if GRPC_UNITS.iter().any(|(u, _)| *u == unit) {
            DecodeError::MissingDigits
        } else {
            DecodeError::UnknownUnit
        });
    }
    let n = parse_digits(digits, GRPC_MAX_DIGITS)?;
    // At most 99 999 999, so every product below fits in a u64.
    match unit {
        b'H' => Ok(Duration::from_secs(n * 3600)),
        b'M' => Ok(Duration::from_secs(n * 60)),
        b'S' => Ok(Duration::from_secs(n)),
        b'm' => Ok(Duration::from_millis(n)),
        b'u' => Ok(Duration::from_micros(n)),
        b'n' => Ok(Duration::from_nanos(n)),
        _ => Err(DecodeError::UnknownUnit),
    }
}

/// Encodes `timeout` as whole milliseconds, rounding down; saturates at `9999999999`.
pub fn encode_millis(timeout: Duration) -> Encoded {
    Encoded::new(timeout.as_millis().min(MILLIS_MAX_VALUE), None)
}

/// Decodes a millisecond value: 1 to 10 ASCII digits. Surrounding spaces and tabs are
/// ignored.
pub fn decode_millis(value: &[u8]) -> Result<Duration, DecodeError> {
    let value = trim(value);
    if value.is_empty() {
        return Err(DecodeError::Empty);
    }
    parse_digits(value, MILLIS_MAX_DIGITS).map(Duration::from_millis)
}

fn trim(mut value: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = value {
        value = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = value {
        value = rest;
    }
    value
}

/// Parses 1..=`max` ASCII digits (`max` ≤ 19, so the result fits in a u64).
fn parse_digits(digits: &[u8], max: u8) -> Result<u64, DecodeError> {
    // One scalar pass (header values are a few bytes: no vector set-up). A value of more
    // than 19 digits may wrap here, but it is refused below, after the digit check, so
    // a non-digit anywhere is still `NotDigits`.
    let mut n = 0u64;
    for &d in digits {
        if !d.is_ascii_digit() {
            return Err(DecodeError::NotDigits);
        }
        n = n.wrapping_mul(10).wrapping_add(u64::from(d - b'0'));
    }
    if digits.len() > usize::from(max) {
        return Err(DecodeError::TooManyDigits { max });
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_encode_picks_the_finest_unit_that_fits() {
        let cases = [
            (Duration::ZERO, "0n"),
            (Duration::from_nanos(99_999_999), "99999999n"),
            (Duration::from_nanos(100_000_000), "100000u"),
            (Duration::from_secs(100), "100000m"),
            (Duration::from_secs(100_000), "100000S"),
            (Duration::from_secs(100_000_000), "1666666M"),
            (Duration::from_secs(6_000_000_000), "1666666H"),
            (Duration::MAX, "99999999H"),
        ];
        for (d, want) in cases {
            assert_eq!(encode_grpc_timeout(d).as_str(), want, "{d:?}");
        }
    }

    #[test]
    fn grpc_decode_reads_every_unit_and_rejects_the_rest() {
        assert_eq!(decode_grpc_timeout(b"1H"), Ok(Duration::from_secs(3600)));
        assert_eq!(decode_grpc_timeout(b"2M"), Ok(Duration::from_secs(120)));
        assert_eq!(decode_grpc_timeout(b" 3S\t"), Ok(Duration::from_secs(3)));
        assert_eq!(decode_grpc_timeout(b"4m"), Ok(Duration::from_millis(4)));
        assert_eq!(decode_grpc_timeout(b"5u"), Ok(Duration::from_micros(5)));
        assert_eq!(decode_grpc_timeout(b"6n"), Ok(Duration::from_nanos(6)));
        assert_eq!(
            decode_grpc_timeout(b"99999999H"),
            Ok(Duration::from_secs(99_999_999 * 3600))
        );
        assert_eq!(decode_grpc_timeout(b""), Err(DecodeError::Empty));
        assert_eq!(decode_grpc_timeout(b"  "), Err(DecodeError::Empty));
        assert_eq!(decode_grpc_timeout(b"10"), Err(DecodeError::MissingUnit));
        assert_eq!(decode_grpc_timeout(b"S"), Err(DecodeError::MissingDigits));
        assert_eq!(decode_grpc_timeout(b"x"), Err(DecodeError::UnknownUnit));
        assert_eq!(decode_grpc_timeout(b"10s"), Err(DecodeError::UnknownUnit));
        assert_eq!(decode_grpc_timeout(b"-1S"), Err(DecodeError::NotDigits));
        assert_eq!(decode_grpc_timeout(b"1 S"), Err(DecodeError::NotDigits));
        assert_eq!(
            decode_grpc_timeout(b"123456789S"),
            Err(DecodeError::TooManyDigits { max: 8 })
        );
    }

    #[test]
    fn millis_round_down_saturate_and_reject_non_digits() {
        assert_eq!(encode_millis(Duration::from_nanos(999_999)).as_str(), "0");
        assert_eq!(encode_millis(Duration::MAX).as_str(), "9999999999");
        assert_eq!(decode_millis(b"0"), Ok(Duration::ZERO));
        assert_eq!(
            decode_millis(b"9999999999"),
            Ok(Duration::from_millis(9_999_999_999))
        );
        assert_eq!(
            decode_millis(b"10000000000"),
            Err(DecodeError::TooManyDigits { max: 10 })
        );
        assert_eq!(decode_millis(b"+5"), Err(DecodeError::NotDigits));
        assert_eq!(decode_millis(b"5ms"), Err(DecodeError::NotDigits));
        assert_eq!(decode_millis(b""), Err(DecodeError::Empty));
    }
}
