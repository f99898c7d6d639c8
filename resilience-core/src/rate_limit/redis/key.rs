//! [`RedisKey`]: what a Redis limit can be keyed by, and how a key becomes a Redis key.

use std::io::Write;
use std::net::{IpAddr, SocketAddr};

/// A key a [`RedisRateLimiter`](super::RedisRateLimiter) limits by: its bytes become part
/// of the Redis key (escaped, so any bytes are fine).
///
/// `()` is the one key of a limit shared by everything ("global").
pub trait RedisKey {
    /// Appends the key's bytes to `out`.
    fn write_key(&self, out: &mut Vec<u8>);
}

impl RedisKey for () {
    fn write_key(&self, _: &mut Vec<u8>) {}
}

impl RedisKey for [u8] {
    fn write_key(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self);
    }
}

impl RedisKey for str {
    fn write_key(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.as_bytes());
    }
}

impl RedisKey for String {
    fn write_key(&self, out: &mut Vec<u8>) {
        self.as_str().write_key(out);
    }
}

impl RedisKey for Vec<u8> {
    fn write_key(&self, out: &mut Vec<u8>) {
        self.as_slice().write_key(out);
    }
}

impl RedisKey for IpAddr {
    fn write_key(&self, out: &mut Vec<u8>) {
        // Writing into a `Vec` cannot fail.
        let _ = write!(out, "{self}");
    }
}

impl RedisKey for SocketAddr {
    fn write_key(&self, out: &mut Vec<u8>) {
        let _ = write!(out, "{self}");
    }
}

impl RedisKey for u64 {
    fn write_key(&self, out: &mut Vec<u8>) {
        let _ = write!(out, "{self}");
    }
}

/// Bytes kept as they are in a Redis key; a part with any other byte is hex-encoded.
fn is_plain(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-_.:@/+=".contains(&b)
}

/// Appends `part` to `out`: as is when every byte is plain, else `~` and its bytes in
/// lowercase hex. `~` is not plain, so the two forms never collide, and neither contains
/// `{` or `}`, so the hash tag around the name and key stays intact.
pub(super) fn escape_into(out: &mut Vec<u8>, part: &[u8]) {
    if part.iter().all(|&b| is_plain(b)) {
        out.extend_from_slice(part);
    } else {
        out.push(b'~');
        for b in part {
            let _ = write!(out, "{b:02x}");
        }
    }
}

/// The Redis key of `key` under `prefix` for the limit whose escaped name is `name`:
/// `prefix{name:key}`. The braces are a Redis Cluster hash tag: everything a check touches
/// lives in one slot, chosen by the limit and the key.
pub(super) fn redis_key<K: RedisKey + ?Sized>(prefix: &[u8], name: &[u8], key: &K) -> Vec<u8> {
    let mut raw = Vec::new();
    key.write_key(&mut raw);
    let mut out = Vec::with_capacity(prefix.len() + name.len() + raw.len() + 4);
    out.extend_from_slice(prefix);
    out.push(b'{');
    out.extend_from_slice(name);
    out.push(b':');
    escape_into(&mut out, &raw);
    out.push(b'}');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key<K: RedisKey + ?Sized>(k: &K) -> String {
        String::from_utf8(redis_key(b"rl:", b"api", k)).unwrap()
    }

    #[test]
    fn keys_are_hash_tagged_and_escaped_without_collisions() {
        assert_eq!(key(&()), "rl:{api:}");
        assert_eq!(key("client-7"), "rl:{api:client-7}");
        assert_eq!(key("a}b"), "rl:{api:~617d62}");
        assert_eq!(key(&b"\x00\xff"[..]), "rl:{api:~00ff}");
        // A plain key that looks like an escaped one cannot exist: `~` is escaped.
        assert_eq!(key("~00ff"), "rl:{api:~7e30306666}");
        let ip: IpAddr = "2001:db8::1".parse().unwrap();
        assert_eq!(key(&ip), "rl:{api:2001:db8::1}");
    }
}
