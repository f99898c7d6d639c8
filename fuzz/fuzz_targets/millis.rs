//! Millisecond deadline header decoding: never panics, and round-trips.

#![no_main]

use libfuzzer_sys::fuzz_target;
use resilience_core::deadline::codec::{decode_millis, encode_millis};

fuzz_target!(|data: &[u8]| {
    if let Ok(timeout) = decode_millis(data) {
        assert_eq!(
            timeout.subsec_nanos() % 1_000_000,
            0,
            "{data:?}: whole milliseconds"
        );
        let encoded = encode_millis(timeout);
        assert_eq!(
            decode_millis(encoded.as_bytes()),
            Ok(timeout),
            "{data:?} -> {encoded}"
        );
    }
});
