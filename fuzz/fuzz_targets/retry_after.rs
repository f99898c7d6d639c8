//! `Retry-After` parsing: never panics, in either form, and the delay it gives never
//! panics either, whatever the clock says.

#![no_main]

use std::time::{Duration, SystemTime};

use http::{HeaderMap, HeaderValue, header::RETRY_AFTER};
use libfuzzer_sys::fuzz_target;
use resilience_tower::http::RetryAfter;
use resilience_tower::http::retry_after::retry_after;

fuzz_target!(|data: &[u8]| {
    let parsed = RetryAfter::parse_bytes(data);
    if let Some(parsed) = parsed {
        for now in [SystemTime::UNIX_EPOCH, SystemTime::now()] {
            let _ = parsed.delay_from(now);
        }
        if let RetryAfter::Delay(d) = parsed {
            assert_eq!(d.subsec_nanos(), 0, "{data:?}: whole seconds");
            assert_eq!(parsed.delay_from(SystemTime::UNIX_EPOCH), d);
        }
    }
    if let Ok(value) = HeaderValue::from_bytes(data) {
        assert_eq!(RetryAfter::parse(&value), parsed);
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, value);
        let delay = retry_after(&headers);
        assert_eq!(delay.is_some(), parsed.is_some());
        let _ = delay.map(|d| d.min(Duration::MAX));
    }
});
