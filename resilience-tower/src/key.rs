//! [`RequestKey`]: what makes two requests "the same" for the layers that key by request
//! (fallback's stale answers, coalescing).

use http::header::{ACCEPT, ACCEPT_ENCODING, ACCEPT_LANGUAGE, AUTHORIZATION, COOKIE};
use http::{HeaderMap, HeaderValue, Method, Request, Uri};

/// Derives a key from a request.
///
/// Implemented by [`NoKey`] (every request the same: `()`), [`KeyFn`] (a closure of your
/// own) and [`HttpKey`] (identical HTTP `GET`s and `HEAD`s).
pub trait RequestKey<Req> {
    /// The key.
    type Key;

    /// The key of `request`.
    fn key(&self, request: &Req) -> Self::Key;
}

/// A [`RequestKey`]'s key as a stale fallback uses it: `Some(key)` to keep a success
/// for and answer a failure from, `None` for a request whose key does not tell its
/// caller apart (nothing kept, no stale answer). An `Option<K>` is itself (so
/// [`HttpKey`]'s `None`, given to every request that is not a `GET` or `HEAD`, never
/// shares an answer); a plain key (`()`, a `String`, an integer) is always `Some`.
/// Implement it for a key type of your own, or return an `Option` from a [`KeyFn`].
pub trait StaleKey<K> {
    /// The key, if the request has one.
    fn stale_key(self) -> Option<K>;
}

impl<K> StaleKey<K> for Option<K> {
    #[inline]
    fn stale_key(self) -> Option<K> {
        self
    }
}

macro_rules! always_a_key {
    ($($key:ty),* $(,)?) => {$(
        impl StaleKey<$key> for $key {
            #[inline]
            fn stale_key(self) -> Option<$key> {
                Some(self)
            }
        }
    )*};
}

always_a_key!(
    (),
    String,
    u8,
    u16,
    u32,
    u64,
    u128,
    usize,
    i8,
    i16,
    i32,
    i64,
    i128,
    isize
);

/// Every request has the same key, `()`.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoKey;

impl<Req> RequestKey<Req> for NoKey {
    type Key = ();

    #[inline]
    fn key(&self, _: &Req) {}
}

/// A key made by a closure of the request.
#[derive(Clone, Copy, Debug)]
pub struct KeyFn<F>(pub F);

impl<Req, K, F: Fn(&Req) -> K> RequestKey<Req> for KeyFn<F> {
    type Key = K;

    #[inline]
    fn key(&self, request: &Req) -> K {
        (self.0)(request)
    }
}

/// The default key of HTTP requests: `GET` and `HEAD` requests with the same method and
/// URI, **and the same credentials and content negotiation** — the values of
/// `Authorization`, `Cookie`, `Accept`, `Accept-Encoding` and `Accept-Language` — are the
/// same; any other method has no key (`None`).
///
/// The headers are part of the key so that one client never gets an answer made for
/// another (a response that depends on who asks, or a compressed body for a client that
/// cannot read it). Other headers (tracing ids, user agents) are not, so requests that
/// differ only there still match; use a [`KeyFn`] when your responses depend on more.
#[derive(Clone, Copy, Debug, Default)]
pub struct HttpKey;

/// A key made by [`HttpKey`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct HttpKeyOf {
    method: Method,
    uri: Uri,
    headers: [Option<HeaderValue>; 5],
}

impl<B> RequestKey<Request<B>> for HttpKey {
    type Key = Option<HttpKeyOf>;

    fn key(&self, request: &Request<B>) -> Option<HttpKeyOf> {
        let method = request.method();
        if method != Method::GET && method != Method::HEAD {
            return None;
        }
        let headers = request.headers();
        let value = |name| one(headers, name);
        Some(HttpKeyOf {
            method: method.clone(),
            uri: request.uri().clone(),
            headers: [
                value(AUTHORIZATION)?,
                value(COOKIE)?,
                value(ACCEPT)?,
                value(ACCEPT_ENCODING)?,
                value(ACCEPT_LANGUAGE)?,
            ],
        })
    }
}

/// The value of a header that appears at most once: `Some(None)` when absent, `None`
/// (no key: never coalesced) when repeated.
fn one(headers: &HeaderMap, name: http::HeaderName) -> Option<Option<HeaderValue>> {
    let mut values = headers.get_all(name).iter();
    let first = values.next().cloned();
    match values.next() {
        None => Some(first),
        Some(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(uri: &str) -> http::request::Builder {
        Request::builder().method(Method::GET).uri(uri)
    }

    #[test]
    fn gets_match_on_uri_and_credentials_and_other_methods_have_no_key() {
        let key = |r: Request<()>| HttpKey.key(&r);
        let plain = key(get("/a?x=1").body(()).unwrap());
        assert!(plain.is_some());
        assert_eq!(
            plain,
            key(get("/a?x=1")
                .header("traceparent", "00-1")
                .body(())
                .unwrap())
        );
        assert_ne!(plain, key(get("/a?x=2").body(()).unwrap()));
        let alice = key(get("/a?x=1")
            .header(AUTHORIZATION, "Bearer alice")
            .body(())
            .unwrap());
        let bob = key(get("/a?x=1")
            .header(AUTHORIZATION, "Bearer bob")
            .body(())
            .unwrap());
        assert_ne!(alice, bob, "one client never shares another's answer");
        assert_ne!(plain, alice);
        let gzip = key(get("/a?x=1")
            .header(ACCEPT_ENCODING, "gzip")
            .body(())
            .unwrap());
        assert_ne!(plain, gzip);
        let post = Request::builder()
            .method(Method::POST)
            .uri("/a")
            .body(())
            .unwrap();
        assert_eq!(key(post), None);
        let twice = get("/a")
            .header(COOKIE, "a=1")
            .header(COOKIE, "b=2")
            .body(())
            .unwrap();
        assert_eq!(key(twice), None, "a repeated header: not coalesced");
    }
}
