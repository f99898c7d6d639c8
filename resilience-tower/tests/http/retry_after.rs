use std::time::{Duration, SystemTime};

use http::HeaderValue;
use proptest::prelude::*;
use resilience_tower::http::RetryAfter;

fn now() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000)
}

proptest! {
    #[test]
    fn any_bytes_parse_to_a_value_or_none_without_panicking(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        if let Some(parsed) = RetryAfter::parse_bytes(&bytes) {
            // Whatever parsed yields a delay without overflow, from any reference time.
            let _ = parsed.delay_from(now());
            let _ = parsed.delay_from(SystemTime::UNIX_EPOCH);
        }
        if let Ok(value) = HeaderValue::from_bytes(&bytes) {
            prop_assert_eq!(RetryAfter::parse(&value), RetryAfter::parse_bytes(&bytes));
        }
    }

    #[test]
    fn any_ascii_text_parses_without_panicking(text in "[ -~]{0,40}") {
        let _ = RetryAfter::parse_bytes(text.as_bytes()).map(|r| r.delay_from(now()));
    }

    #[test]
    fn date_like_garbage_parses_without_panicking(
        text in "(Mon|Sun|Xyz), [0-9]{1,3} (Jan|Feb|Nov|Foo) [0-9]{1,6} [0-9]{1,3}:[0-9]{1,3}:[0-9]{1,3} (GMT|UTC|)"
    ) {
        let _ = RetryAfter::parse_bytes(text.as_bytes()).map(|r| r.delay_from(now()));
    }

    #[test]
    fn delta_seconds_round_trip_exactly(secs in any::<u64>()) {
        let parsed = RetryAfter::parse_bytes(secs.to_string().as_bytes());
        prop_assert_eq!(parsed, Some(RetryAfter::Delay(Duration::from_secs(secs))));
    }

    #[test]
    fn numbers_beyond_u64_are_none_not_wrapped(extra in 1_u32..20, digit in 1_u8..10) {
        let mut text = u64::MAX.to_string();
        for _ in 0..extra {
            text.push(char::from(b'0' + digit));
        }
        prop_assert_eq!(RetryAfter::parse_bytes(text.as_bytes()), None);
    }

    #[test]
    fn negative_and_fractional_numbers_are_none(n in any::<i64>(), frac in 1_u32..1000) {
        let negative = format!("-{}", n.unsigned_abs());
        prop_assert_eq!(RetryAfter::parse_bytes(negative.as_bytes()), None);
        let fractional = format!("{}.{frac}", n.unsigned_abs());
        prop_assert_eq!(RetryAfter::parse_bytes(fractional.as_bytes()), None);
    }

    #[test]
    fn future_dates_give_the_remaining_delay(ahead in 0_u64..10_000_000) {
        let at = now() + Duration::from_secs(ahead);
        let text = httpdate::fmt_http_date(at);
        let parsed = RetryAfter::parse_bytes(text.as_bytes()).expect("an IMF-fixdate parses");
        prop_assert_eq!(parsed.delay_from(now()), Duration::from_secs(ahead));
    }

    #[test]
    fn past_dates_mean_no_wait(behind in 1_u64..1_000_000_000) {
        let at = now() - Duration::from_secs(behind);
        let text = httpdate::fmt_http_date(at);
        let parsed = RetryAfter::parse_bytes(text.as_bytes()).expect("an IMF-fixdate parses");
        prop_assert_eq!(parsed.delay_from(now()), Duration::ZERO);
    }
}

#[test]
fn retry_after_reads_the_header_from_a_map() {
    let mut headers = http::HeaderMap::new();
    assert_eq!(
        resilience_tower::http::retry_after::retry_after(&headers),
        None
    );
    headers.insert(http::header::RETRY_AFTER, HeaderValue::from_static("42"));
    assert_eq!(
        resilience_tower::http::retry_after::retry_after(&headers),
        Some(Duration::from_secs(42))
    );
}
