//! Key extractors: what a [`RateLimitLayer`](super::RateLimitLayer) limits each request by.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use http::{HeaderName, Request};
use sha2::{Digest, Sha256};

/// Picks the key a request is limited by.
///
/// The key is lent to `f` rather than returned, so that a key borrowed from the request
/// (a header's bytes) is checked without being copied. `None` exempts the request from the
/// limit.
pub trait KeyExtractor<Req>: Clone + Send + Sync + 'static {
    /// The key type, as the limiter looks it up (`()` for one global limit, `[u8]`, …).
    type Key: ?Sized;

    /// Calls `f` with the key of `request`, or with `None` to let it through unlimited.
    fn with_key<R>(&self, request: &Req, f: impl FnOnce(Option<&Self::Key>) -> R) -> R;
}

/// One limit for every request (the default): pair it with a
/// [`RateLimiter`](resilience_core::rate_limit::RateLimiter).
#[derive(Clone, Copy, Debug, Default)]
pub struct Global;

impl<Req> KeyExtractor<Req> for Global {
    type Key = ();

    #[inline]
    fn with_key<R>(&self, _: &Req, f: impl FnOnce(Option<&()>) -> R) -> R {
        f(Some(&()))
    }
}

/// Keys longer than this are replaced by their SHA-256 digest: the memory a key costs
/// stays small whatever a client sends.
const MAX_RAW_KEY: usize = 64;

/// The value of a request header (an API key, a tenant id), as bytes: pair it with a
/// `KeyedRateLimiter<Vec<u8>>` or a `RedisRateLimiter`.
///
/// Requests without the header share one limit (the key is empty), so leaving the header
/// out is no way around the limit. Values longer than 64 bytes are limited by their
/// SHA-256 digest instead, so a client cannot make the limiter hold long keys.
///
/// Only limit by a header that identifies the client *after* authentication, or that the
/// limit tolerates being forged: anyone can send any value.
#[derive(Clone, Debug)]
pub struct Header {
    name: HeaderName,
}

impl Header {
    /// Limits by the first value of header `name`.
    pub fn new(name: HeaderName) -> Self {
        Self { name }
    }
}

impl<B> KeyExtractor<Request<B>> for Header {
    type Key = [u8];

    fn with_key<R>(&self, request: &Request<B>, f: impl FnOnce(Option<&[u8]>) -> R) -> R {
        let value = request
            .headers()
            .get(&self.name)
            .map_or(&b""[..], |v| v.as_bytes());
        if value.len() <= MAX_RAW_KEY {
            return f(Some(value));
        }
        // A digest is 32 bytes and a raw key at most 64, of which a 33-byte one starting
        // with 0xff would need a SHA-256 preimage to collide: marked, not ambiguous.
        let mut digested = [0xff; 33];
        digested[1..].copy_from_slice(&Sha256::digest(value));
        f(Some(&digested))
    }
}

/// The client's IP address, from the connection: pair it with a
/// `KeyedRateLimiter<IpAddr>` or a `RedisRateLimiter`.
///
/// Reads axum's `ConnectInfo<SocketAddr>` (serve the router with
/// `into_make_service_with_connect_info::<SocketAddr>()`; feature `axum`) or a plain
/// `SocketAddr` in the request extensions. IPv6 addresses are limited per /64 by default
/// (one host usually holds a whole /64, so per-address limits would be no limit at all);
/// see [`ipv6_prefix`](Self::ipv6_prefix).
///
/// Behind a reverse proxy the peer is the proxy: use a [`KeyFn`] reading the address the
/// proxy vouches for instead.
///
/// A request without a peer address (the server was not set up to record it) is limited
/// under the unspecified address, one limit shared by all of them, and a warning is
/// logged once: a misconfiguration never turns the limit off.
#[derive(Clone, Debug)]
pub struct PeerIp {
    v4_prefix: u8,
    v6_prefix: u8,
    warned: Arc<AtomicBool>,
}

impl Default for PeerIp {
    fn default() -> Self {
        Self::new()
    }
}

impl PeerIp {
    /// Per IPv4 address and per IPv6 /64.
    pub fn new() -> Self {
        Self {
            v4_prefix: 32,
            v6_prefix: 64,
            warned: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Limits IPv4 clients per network of this prefix length (default 32: per address;
    /// capped at 32).
    #[must_use]
    pub fn ipv4_prefix(mut self, bits: u8) -> Self {
        self.v4_prefix = bits.min(32);
        self
    }

    /// Limits IPv6 clients per network of this prefix length (default 64; capped at 128).
    #[must_use]
    pub fn ipv6_prefix(mut self, bits: u8) -> Self {
        self.v6_prefix = bits.min(128);
        self
    }

    /// The key for `addr`: its network under the configured prefix.
    pub fn key(&self, addr: IpAddr) -> IpAddr {
        match addr {
            IpAddr::V4(v4) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.v4_prefix))
                    .unwrap_or(0);
                IpAddr::V4(Ipv4Addr::from(u32::from(v4) & mask))
            }
            IpAddr::V6(v6) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.v6_prefix))
                    .unwrap_or(0);
                IpAddr::V6(Ipv6Addr::from(u128::from(v6) & mask))
            }
        }
    }

    fn peer<B>(request: &Request<B>) -> Option<SocketAddr> {
        #[cfg(feature = "axum")]
        if let Some(info) = request
            .extensions()
            .get::<axum::extract::ConnectInfo<SocketAddr>>()
        {
            return Some(info.0);
        }
        request.extensions().get::<SocketAddr>().copied()
    }
}

impl<B> KeyExtractor<Request<B>> for PeerIp {
    type Key = IpAddr;

    fn with_key<R>(&self, request: &Request<B>, f: impl FnOnce(Option<&IpAddr>) -> R) -> R {
        let key = match Self::peer(request) {
            Some(peer) => self.key(peer.ip().to_canonical()),
            None => {
                if !self.warned.swap(true, Ordering::Relaxed) {
                    tracing::warn!(
                        "rate limit by peer address: the request carries no peer address \
                         (serve axum with `into_make_service_with_connect_info::<SocketAddr>()`); \
                         such requests share one limit"
                    );
                }
                IpAddr::V4(Ipv4Addr::UNSPECIFIED)
            }
        };
        f(Some(&key))
    }
}

/// A key computed by a closure, `Fn(&Request) -> Option<K>`: an authenticated principal
/// from the extensions, an address a trusted proxy wrote, a route. `None` exempts the
/// request (health checks, internal callers).
#[derive(Clone)]
pub struct KeyFn<F> {
    f: F,
}

impl<F> KeyFn<F> {
    /// Limits by what `f` returns.
    pub fn new(f: F) -> Self {
        Self { f }
    }
}

impl<F> fmt::Debug for KeyFn<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyFn").finish_non_exhaustive()
    }
}

impl<Req, K, F> KeyExtractor<Req> for KeyFn<F>
where
    F: Fn(&Req) -> Option<K> + Clone + Send + Sync + 'static,
{
    type Key = K;

    fn with_key<R>(&self, request: &Req, f: impl FnOnce(Option<&K>) -> R) -> R {
        f((self.f)(request).as_ref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peer_keys_are_networks_of_the_configured_prefix() {
        let peer = PeerIp::new();
        let v6: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        assert_eq!(peer.key(v6), "2001:db8:1:2::".parse::<IpAddr>().unwrap());
        let v4: IpAddr = "198.51.100.7".parse().unwrap();
        assert_eq!(peer.key(v4), v4);
        let wide = PeerIp::new().ipv4_prefix(24).ipv6_prefix(0);
        assert_eq!(wide.key(v4), "198.51.100.0".parse::<IpAddr>().unwrap());
        assert_eq!(wide.key(v6), "::".parse::<IpAddr>().unwrap());
        assert_eq!(PeerIp::new().ipv6_prefix(200).key(v6), v6);
    }
}
