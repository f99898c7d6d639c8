//! What identifies "the same request": the fingerprint and the scoped store key.

use std::borrow::Cow;
use std::fmt::Write as _;

use http::{Method, Uri};
use resilience_core::idempotency::Fingerprint;
use sha2::{Digest, Sha256};

/// SHA-256 over the method, the path with its query, the scope and the body.
///
/// Every field is preceded by its length (8 bytes, little endian), and the scope by a
/// presence tag, so fields cannot run together: `POST /ab` + body `c` and `POST /a` +
/// body `bc` hash differently, as do "no scope" and "an empty scope".
pub(crate) fn fingerprint(
    method: &Method,
    uri: &Uri,
    scope: Option<&[u8]>,
    body: &[u8],
) -> Fingerprint {
    let mut hasher = Sha256::new();
    field(&mut hasher, method.as_str().as_bytes());
    let target = uri.path_and_query().map_or(uri.path(), |pq| pq.as_str());
    field(&mut hasher, target.as_bytes());
    match scope {
        None => hasher.update([0]),
        Some(scope) => {
            hasher.update([1]);
            field(&mut hasher, scope);
        }
    }
    field(&mut hasher, body);
    Fingerprint::from_bytes(hasher.finalize().into())
}

fn field(hasher: &mut Sha256, bytes: &[u8]) {
    hasher.update((bytes.len() as u64).to_le_bytes());
    hasher.update(bytes);
}

/// The key the store sees.
///
/// Without a scope hook there is one namespace and the client's key is used as it is.
/// With one, each scope gets its own namespace, `<32 hex digits of SHA-256(scope)>:key`
/// (`-:key` for requests the hook gave no scope), so one principal's key never collides
/// with another's: the second principal's request runs instead of being refused. The
/// fingerprint includes the full scope too, so even a collision of the 128-bit prefix
/// could only produce a mismatch (422), never another principal's response.
pub(crate) fn store_key<'a>(key: &'a str, scoped: bool, scope: Option<&[u8]>) -> Cow<'a, str> {
    if !scoped {
        return Cow::Borrowed(key);
    }
    let mut out = String::with_capacity(33 + key.len());
    match scope {
        None => out.push('-'),
        Some(scope) => {
            for byte in &Sha256::digest(scope)[..16] {
                let _ = write!(out, "{byte:02x}");
            }
        }
    }
    out.push(':');
    out.push_str(key);
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fp(method: &str, uri: &str, scope: Option<&[u8]>, body: &[u8]) -> Fingerprint {
        let method = Method::from_bytes(method.as_bytes()).expect("method");
        fingerprint(&method, &uri.parse().expect("uri"), scope, body)
    }

    #[test]
    fn fields_cannot_run_together() {
        assert_ne!(fp("POST", "/ab", None, b"c"), fp("POST", "/a", None, b"bc"));
        assert_ne!(
            fp("POST", "/a", Some(b""), b""),
            fp("POST", "/a", None, b"")
        );
        assert_ne!(
            fp("POST", "/a", Some(b"x"), b""),
            fp("POST", "/a", None, b"x")
        );
        assert_ne!(
            fp("POST", "/a?x=1", None, b""),
            fp("POST", "/a?x=2", None, b"")
        );
        assert_ne!(fp("POST", "/a", None, b""), fp("PATCH", "/a", None, b""));
        assert_eq!(
            fp("POST", "/a", Some(b"u"), b"b"),
            fp("POST", "/a", Some(b"u"), b"b")
        );
    }

    #[test]
    fn scopes_get_separate_namespaces() {
        assert_eq!(store_key("k", false, Some(b"alice")), "k");
        let alice = store_key("k", true, Some(b"alice"));
        let bob = store_key("k", true, Some(b"bob"));
        assert_ne!(alice, bob);
        assert_eq!(alice.len(), 34);
        assert_eq!(store_key("k", true, None), "-:k");
    }
}
