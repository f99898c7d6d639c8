//! `grpc-timeout` decoding: never panics, and what it accepts survives a round trip.

#![no_main]

use libfuzzer_sys::fuzz_target;
use resilience_core::deadline::codec::{decode_grpc_timeout, encode_grpc_timeout};

fuzz_target!(|data: &[u8]| {
    if let Ok(timeout) = decode_grpc_timeout(data) {
        // Encoding rounds down to the finest unit that fits 8 digits; decoding that is
        // never longer than what was decoded, and encoding it again is stable.
        let encoded = encode_grpc_timeout(timeout);
        let again = decode_grpc_timeout(encoded.as_bytes()).expect("an encoded value decodes");
        assert!(
            again <= timeout,
            "{data:?}: {timeout:?} -> {encoded} -> {again:?}"
        );
        assert_eq!(encode_grpc_timeout(again).as_str(), encoded.as_str());
    }
});
