use std::time::Duration;

use proptest::prelude::*;
use resilience_core::deadline::codec::{self, DecodeError, GRPC_MAX_DIGITS, MILLIS_MAX_DIGITS};

const MAX_GRPC: Duration = Duration::from_secs(99_999_999 * 3600);

fn unit_of(encoded: &str) -> Duration {
    match encoded.as_bytes().last() {
        Some(b'n') => Duration::from_nanos(1),
        Some(b'u') => Duration::from_micros(1),
        Some(b'm') => Duration::from_millis(1),
        Some(b'S') => Duration::from_secs(1),
        Some(b'M') => Duration::from_secs(60),
        Some(b'H') => Duration::from_secs(3600),
        other => panic!("no unit in {encoded:?}: {other:?}"),
    }
}

fn any_duration() -> impl Strategy<Value = Duration> {
    prop_oneof![
        (0u64..1_000_000_000).prop_map(Duration::from_nanos),
        (0u64..1_000_000_000, 0u32..1_000_000_000).prop_map(|(s, n)| Duration::new(s, n)),
        (0u64..=MAX_GRPC.as_secs(), 0u32..1_000_000_000).prop_map(|(s, n)| Duration::new(s, n)),
    ]
}

proptest! {
    #[test]
    fn grpc_round_trip_is_exact_to_the_unit_and_never_longer(d in any_duration()) {
        let encoded = codec::encode_grpc_timeout(d);
        let s = encoded.as_str();
        prop_assert!(s.len() <= usize::from(GRPC_MAX_DIGITS) + 1, "{s}");
        let decoded = codec::decode_grpc_timeout(s.as_bytes()).unwrap();
        if d <= MAX_GRPC {
            prop_assert!(decoded <= d, "{s}: {decoded:?} > {d:?}");
            prop_assert!(d - decoded < unit_of(s), "{s}: lost more than a unit of {d:?}");
        }
    }

    #[test]
    fn millis_round_trip_is_exact_to_the_millisecond(ms in 0u64..=9_999_999_999, sub in 0u32..1_000_000) {
        let d = Duration::from_millis(ms) + Duration::from_nanos(u64::from(sub));
        let encoded = codec::encode_millis(d);
        prop_assert!(encoded.as_str().len() <= usize::from(MILLIS_MAX_DIGITS));
        prop_assert_eq!(codec::decode_millis(encoded.as_bytes()), Ok(Duration::from_millis(ms)));
    }

    #[test]
    fn any_bytes_decode_to_a_bounded_value_or_a_clear_error(bytes in proptest::collection::vec(any::<u8>(), 0..24)) {
        match codec::decode_grpc_timeout(&bytes) {
            Ok(d) => prop_assert!(d <= MAX_GRPC),
            Err(e) => prop_assert!(!e.to_string().is_empty()),
        }
        match codec::decode_millis(&bytes) {
            Ok(d) => prop_assert!(d <= Duration::from_millis(9_999_999_999)),
            Err(e) => prop_assert!(!e.to_string().is_empty()),
        }
    }

    #[test]
    fn header_shaped_strings_decode_exactly_when_well_formed(s in "[ ]?[0-9]{0,11}[HMSmunx]?[ ]?") {
        let t = s.trim();
        let digits = t.trim_end_matches(|c: char| !c.is_ascii_digit());
        let unit = &t[digits.len()..];
        let well_formed = !digits.is_empty() && digits.len() <= 8 && ["H","M","S","m","u","n"].contains(&unit);
        prop_assert_eq!(codec::decode_grpc_timeout(s.as_bytes()).is_ok(), well_formed, "{:?}", s);
        let ms_ok = !t.is_empty() && t.len() <= 10 && t.bytes().all(|b| b.is_ascii_digit());
        prop_assert_eq!(codec::decode_millis(s.as_bytes()).is_ok(), ms_ok, "{:?}", s);
    }
}

#[test]
fn largest_grpc_value_decodes_without_overflow_and_one_more_digit_is_an_error() {
    assert_eq!(codec::decode_grpc_timeout(b"99999999H"), Ok(MAX_GRPC));
    assert_eq!(
        codec::decode_grpc_timeout(b"999999999H"),
        Err(DecodeError::TooManyDigits { max: 8 })
    );
    assert_eq!(
        codec::decode_grpc_timeout(b"99999999999999999999999999H"),
        Err(DecodeError::TooManyDigits { max: 8 })
    );
    assert_eq!(
        codec::decode_millis(b"99999999999999999999999999"),
        Err(DecodeError::TooManyDigits { max: 10 })
    );
}

#[test]
fn errors_say_what_is_wrong() {
    assert_eq!(
        DecodeError::TooManyDigits { max: 8 }.to_string(),
        "value has more than 8 digits"
    );
    assert_eq!(
        codec::decode_grpc_timeout(b"5s").unwrap_err().to_string(),
        "unit is not one of H, M, S, m, u, n"
    );
}
