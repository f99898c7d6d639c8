//! Reading the `Idempotency-Key` header.

use http::{HeaderMap, HeaderName};

/// The longest key accepted, in bytes.
pub(crate) const MAX_KEY_LEN: usize = 255;

/// What the request says about its key.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum KeyHeader<'a> {
    /// No key header.
    Absent,
    /// A well-formed key (quotes of the structured-field form removed).
    Valid(&'a str),
    /// A key that is present but unusable, and why (a sentence for the client).
    Malformed(&'static str),
}

/// Reads the key from `headers[name]`.
///
/// The IETF draft (`draft-ietf-httpapi-idempotency-key-header`) defines the value as a
/// structured-field string (`"8e03978e-…"`); most APIs in the wild (Stripe, PayPal) send
/// it bare. Both are accepted: surrounding double quotes are removed. The key itself must
/// be 1–255 visible ASCII characters (`!` to `~`); a quoted key may not contain `"` or `\`,
/// and a value that opens or closes with `"` without the other (`"abc`) is malformed.
pub(crate) fn read<'a>(headers: &'a HeaderMap, name: &HeaderName) -> KeyHeader<'a> {
    let mut values = headers.get_all(name).iter();
    let Some(value) = values.next() else {
        return KeyHeader::Absent;
    };
    if values.next().is_some() {
        return KeyHeader::Malformed("The Idempotency-Key header must appear only once.");
    }
    let bytes = value.as_bytes();
    let key = match bytes {
        [b'"', inner @ .., b'"'] => {
            if inner.iter().any(|&b| b == b'"' || b == b'\\') {
                return KeyHeader::Malformed(
                    "A quoted Idempotency-Key may not contain quotes or backslashes.",
                );
            }
            inner
        }
        [b'"', ..] | [.., b'"'] => {
            return KeyHeader::Malformed(
                "A quoted Idempotency-Key must start and end with a double quote.",
            );
        }
        _ => bytes,
    };
    if key.is_empty() {
        return KeyHeader::Malformed("The Idempotency-Key header is empty.");
    }
    if key.len() > MAX_KEY_LEN {
        return KeyHeader::Malformed("The Idempotency-Key is longer than 255 characters.");
    }
    if !key.iter().all(u8::is_ascii_graphic) {
        return KeyHeader::Malformed(
            "The Idempotency-Key may contain only visible ASCII characters.",
        );
    }
    // Visible ASCII is valid UTF-8.
    match std::str::from_utf8(key) {
        Ok(key) => KeyHeader::Valid(key),
        Err(_) => {
            KeyHeader::Malformed("The Idempotency-Key may contain only visible ASCII characters.")
        }
    }
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    const NAME: HeaderName = HeaderName::from_static("idempotency-key");

    fn read_bytes(value: &[u8]) -> Result<String, &'static str> {
        let mut headers = HeaderMap::new();
        headers.insert(
            NAME,
            HeaderValue::from_bytes(value).expect("valid header value"),
        );
        match read(&headers, &NAME) {
            KeyHeader::Valid(key) => Ok(key.to_owned()),
            KeyHeader::Malformed(why) => Err(why),
            KeyHeader::Absent => unreachable!("the header is set"),
        }
    }

    #[test]
    fn bare_and_quoted_keys_are_accepted() {
        assert_eq!(read_bytes(b"abc-123").as_deref(), Ok("abc-123"));
        assert_eq!(read_bytes(b"\"abc-123\"").as_deref(), Ok("abc-123"));
        assert_eq!(read_bytes(&[b'k'; 255]).map(|k| k.len()), Ok(255));
    }

    #[test]
    fn empty_long_invisible_and_half_quoted_keys_are_malformed() {
        for bad in [
            &b""[..],
            b"\"\"",
            &[b'k'; 256],
            b"a b",
            b"a\tb",
            "ключ".as_bytes(),
            b"\"a\\\"b\"",
            b"\"",
            b"\"abc",
            b"abc\"",
        ] {
            assert!(read_bytes(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn absent_and_repeated_headers() {
        let mut headers = HeaderMap::new();
        assert_eq!(read(&headers, &NAME), KeyHeader::Absent);
        headers.append(NAME, HeaderValue::from_static("a"));
        headers.append(NAME, HeaderValue::from_static("b"));
        assert!(matches!(read(&headers, &NAME), KeyHeader::Malformed(_)));
    }
}
