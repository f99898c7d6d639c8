//! Reading the `Idempotency-Key` header.

use std::borrow::Cow;

use http::{HeaderMap, HeaderName};

/// The longest key accepted, in bytes.
pub(crate) const MAX_KEY_LEN: usize = 255;

/// What the request says about its key.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum KeyHeader<'a> {
    /// No key header.
    Absent,
    /// A well-formed key: a bare key as sent, or a structured-field string's value
    /// (quotes removed, escapes resolved).
    Valid(Cow<'a, str>),
    /// A key that is present but unusable, and why (a sentence for the client).
    Malformed(&'static str),
}

/// Reads the key from `headers[name]`.
///
/// The IETF draft (`draft-ietf-httpapi-idempotency-key-header`) defines the value as a
/// structured-field string (RFC 8941 §3.3.3: `"8e03978e-…"`); most APIs in the wild
/// (Stripe, PayPal) send it bare. Both are accepted:
///
/// - a **quoted** key is read as RFC 8941 says: between the quotes, printable ASCII
///   including spaces, with `\"` and `\\` standing for `"` and `\`; a lone `"` or any
///   other escape is malformed. The key is the string's value (`"a \"b\""` is `a "b"`).
/// - a **bare** key is taken as it is and must be visible ASCII (`!` to `~`, no spaces).
///
/// Either way the key is 1–255 characters, and a value that opens or closes with `"`
/// without the other (`"abc`) is malformed.
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
        [b'"', inner @ .., b'"'] => match sf_string(inner) {
            Ok(key) => key,
            Err(why) => return KeyHeader::Malformed(why),
        },
        [b'"', ..] | [.., b'"'] => {
            return KeyHeader::Malformed(
                "A quoted Idempotency-Key must start and end with a double quote.",
            );
        }
        _ if !bytes.iter().all(u8::is_ascii_graphic) => {
            return KeyHeader::Malformed(
                "The Idempotency-Key may contain only visible ASCII characters \
                 (quote it to include spaces).",
            );
        }
        // Visible ASCII is valid UTF-8.
        _ => match std::str::from_utf8(bytes) {
            Ok(key) => Cow::Borrowed(key),
            Err(_) => return KeyHeader::Malformed("The Idempotency-Key is not ASCII."),
        },
    };
    if key.is_empty() {
        return KeyHeader::Malformed("The Idempotency-Key header is empty.");
    }
    if key.len() > MAX_KEY_LEN {
        return KeyHeader::Malformed("The Idempotency-Key is longer than 255 characters.");
    }
    KeyHeader::Valid(key)
}

/// The value of an RFC 8941 string whose quotes were removed: borrowed when it has no
/// escapes.
fn sf_string(inner: &[u8]) -> Result<Cow<'_, str>, &'static str> {
    const BAD_CHAR: &str =
        "A quoted Idempotency-Key may contain only printable ASCII characters and spaces.";
    const BAD_ESCAPE: &str = "In a quoted Idempotency-Key, `\"` and `\\` must be escaped with a backslash, \
         and nothing else may be.";
    if !inner.iter().any(|&b| b == b'"' || b == b'\\') {
        if !inner.iter().all(|&b| b == b' ' || b.is_ascii_graphic()) {
            return Err(BAD_CHAR);
        }
        return std::str::from_utf8(inner)
            .map(Cow::Borrowed)
            .map_err(|_| BAD_CHAR);
    }
    let mut key = String::with_capacity(inner.len());
    let mut bytes = inner.iter();
    while let Some(&b) = bytes.next() {
        match b {
            b'\\' => match bytes.next() {
                Some(&escaped @ (b'"' | b'\\')) => key.push(char::from(escaped)),
                _ => return Err(BAD_ESCAPE),
            },
            b'"' => return Err(BAD_ESCAPE),
            b' ' => key.push(' '),
            b if b.is_ascii_graphic() => key.push(char::from(b)),
            _ => return Err(BAD_CHAR),
        }
    }
    Ok(Cow::Owned(key))
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
            KeyHeader::Valid(key) => Ok(key.into_owned()),
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
    fn rfc_8941_strings_with_escaped_quotes_backslashes_and_spaces_are_accepted() {
        assert_eq!(read_bytes(b"\"a b\"").as_deref(), Ok("a b"));
        assert_eq!(read_bytes(b"\"a\\\"b\"").as_deref(), Ok("a\"b"));
        assert_eq!(read_bytes(b"\"a\\\\b\"").as_deref(), Ok("a\\b"));
        assert_eq!(read_bytes(b"\" \\\"x\\\" \"").as_deref(), Ok(" \"x\" "));
        // 255 characters after unescaping, 510 on the wire.
        let escaped = [b"\\\"".as_slice(); 255].concat();
        let quoted = [b"\"".as_slice(), &escaped, b"\""].concat();
        assert_eq!(read_bytes(&quoted).map(|k| k.len()), Ok(255));
    }

    #[test]
    fn invalid_rfc_8941_strings_are_malformed() {
        for bad in [
            &b"\"a\"b\""[..],
            b"\"a\\b\"",
            b"\"a\\\"",
            b"\"a\tb\"",
            b"\"\\\"",
        ] {
            assert!(read_bytes(bad).is_err(), "{bad:?} accepted");
        }
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
