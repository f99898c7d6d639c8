//! The Lua scripts: each store call is one `EVALSHA`, so one round trip, and atomic in Redis.
//!
//! Values are laid out as [`codec`](super::codec) describes: bytes 3..=34 (Lua counts
//! from 1) of every value are the fingerprint.
//!
//! Each script gives the same answer when it runs twice for one call: a Redis Cluster
//! client resends a request whose connection dropped (a master failing over), and the
//! first copy may have been applied. A claim that finds its own lease is claimed, a
//! complete that finds its own record is done.

use redis::Script;

/// `KEYS[1]` the key; `ARGV[1]` the lease value to set, `ARGV[2]` the lock TTL in ms,
/// `ARGV[3]` the request's fingerprint.
///
/// Returns `1` when claimed (or already holding this very lease: the call was resent),
/// `2` on a fingerprint mismatch, else `{value, pttl}` of the key's lease or record for
/// the client to decode.
const CLAIM: &str = r"
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return 1
end
local value = redis.call('GET', KEYS[1])
if not value then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
if value == ARGV[1] then
  return 1
end
if string.sub(value, 3, 34) ~= ARGV[3] then
  return 2
end
return {value, redis.call('PTTL', KEYS[1])}
";

/// `KEYS[1]` the key; `ARGV[1]` the lease value (fingerprint and fencing token) the caller
/// claimed with, `ARGV[2]` the record value, `ARGV[3]` the record TTL in ms.
///
/// Returns `1` when the lease was current and the record is stored (or the key already
/// holds this very record: the call was resent), `0` (stale) otherwise.
const COMPLETE: &str = r"
local value = redis.call('GET', KEYS[1])
if value == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  return 1
end
if value == ARGV[2] then
  return 1
end
return 0
";

/// `KEYS[1]` the key; `ARGV[1]` the lease value the caller claimed with.
///
/// Returns `1` when the lease was current and the key is deleted, `0` (stale) otherwise.
const RELEASE: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
";

/// `KEYS[1]` the key; `ARGV[1]` the lease value of a claim whose answer was lost (it timed
/// out on the client, and may or may not have been applied).
///
/// Deletes the key if it holds that very lease and returns `0`; returns the `PTTL` of
/// another lease holding the key (the time until it is free), else `0` (the key is free,
/// or completed: a retry replays it).
const ABANDON: &str = r"
local value = redis.call('GET', KEYS[1])
if value == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 0
end
if value and string.sub(value, 2, 2) == 'L' then
  return redis.call('PTTL', KEYS[1])
end
return 0
";

/// The scripts, hashed once per store.
pub(super) struct Scripts {
    pub(super) claim: Script,
    pub(super) complete: Script,
    pub(super) release: Script,
    pub(super) abandon: Script,
}

impl Scripts {
    pub(super) fn new() -> Self {
        Self {
            claim: Script::new(CLAIM),
            complete: Script::new(COMPLETE),
            release: Script::new(RELEASE),
            abandon: Script::new(ABANDON),
        }
    }
}
