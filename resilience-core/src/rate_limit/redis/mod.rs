//! [`RedisRateLimiter`]: one limit across every instance of a service (feature `redis`).

mod config;
mod key;

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use arc_swap::ArcSwap;

pub use config::{RedisRateLimiterBuilder, StoreFailure};
pub use key::RedisKey;

use super::acquire::{Acquire, Grant, Owner, Waiter};
use super::common::Common;
use super::gcra::Verdict;
use super::keyed::KeyMap;
use super::{Quota, RateLimit, RateLimitBy};
use crate::redis_client::{Endpoint, RedisClient};
use crate::{Error, Name};

/// The GCRA of [`gcra`](super::gcra), in one script, on Redis's clock, in microseconds.
///
/// `KEYS[1]` the limit's key; `ARGV[1]` the tolerance (burst × interval), `ARGV[2]` the
/// cost of the request (units × interval), `ARGV[3]` how long the caller may wait.
///
/// Returns `{1, wait, reset}` when admitted (the caller's turn is `wait` from now, and the
/// key is full again `reset` from now) or `{0, retry_after, reset}` when refused (nothing
/// written). The key expires when its bucket is full again, so idle keys cost Redis
/// nothing. A key holding anything but a number is an error, never misread.
const SCRIPT: &str = r"
if redis.replicate_commands then redis.replicate_commands() end
local tolerance = tonumber(ARGV[1])
local cost = tonumber(ARGV[2])
local max_wait = tonumber(ARGV[3])
local tat = 0
local stored = redis.call('GET', KEYS[1])
if stored then
  tat = tonumber(stored)
  if not tat then
    return redis.error_reply('the rate limit state is not a number')
  end
end
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local backlog = math.max(tat - now, 0)
local next_tat = math.max(tat, now) + cost
local wait = next_tat - tolerance - now
if wait > max_wait then
  return {0, math.ceil(wait), math.ceil(backlog)}
end
redis.call('SET', KEYS[1], string.format('%.3f', next_tat), 'PX', math.ceil((next_tat - now) / 1000))
return {1, math.max(math.ceil(wait), 0), math.ceil(next_tat - now)}
";

/// A rate limit enforced across every instance of a service: the state lives in Redis (one
/// node or a [Redis Cluster](#redis-cluster)), so replicas share one budget per key.
///
/// ```no_run
/// use std::time::Duration;
///
/// use resilience_core::rate_limit::{RedisRateLimiter, StoreFailure};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let per_client = RedisRateLimiter::builder("redis://127.0.0.1:6379/")
///     .name("api")
///     .limit(600, Duration::from_secs(60))
///     .timeout(Duration::from_millis(50))
///     .on_store_failure(StoreFailure::FailOpen)
///     .local_precheck(10_000)
///     .build()?;
///
/// let grant = per_client.acquire("client-42").await?;
/// println!("{} left", grant.remaining());
/// # Ok(()) }
/// ```
///
/// # How it works
///
/// Every check is one Lua script (`EVALSHA`: one round trip, atomic in Redis) running the
/// same GCRA as [`RateLimiter`](super::RateLimiter), in microseconds, on Redis's own clock
/// (`TIME`), so replicas whose clocks disagree still agree on the limit. The state is one
/// number per key, at `prefix{name:key}`, which expires when the key's bucket is full
/// again. The braces are a hash tag: the script touches one key, in one slot, as Redis
/// Cluster requires. Keys are escaped, so any bytes are fine.
///
/// A caller allowed to wait ([`max_wait`](RedisRateLimiterBuilder::max_wait)) books its
/// turn in the same script and sleeps locally until it comes.
///
/// # Local pre-check
///
/// With [`local_precheck`](RedisRateLimiterBuilder::local_precheck), each instance
/// remembers, for a bounded number of keys, when Redis said a key would have room again,
/// and refuses that key locally until then: a client hammering a limit it has already hit
/// costs no round trip. This can only refuse what Redis would refuse (a refused key's
/// state only moves forward), so the global limit is unchanged.
///
/// # When Redis is down, slow or wrong
///
/// Every check is bounded by the [timeout](RedisRateLimiterBuilder::timeout), connecting
/// included, and never panics. A check that fails — Redis unreachable, too slow, or
/// answering something this script never returns — is decided by
/// [`on_store_failure`](RedisRateLimiterBuilder::on_store_failure): let the call through
/// (default, a [`Grant`] whose [`is_checked`](Grant::is_checked) is `false`) or refuse it
/// with [`StoreUnavailable`](crate::ErrorKind::StoreUnavailable), the Redis error as its
/// source. Either way `resilience_rate_limit_store_errors_total` counts it. The connection
/// is remade by the next check after a failure, so the limiter recovers by itself.
///
/// # Redis Cluster
///
/// [`RedisRateLimiter::cluster_builder`] takes the URLs of some of a cluster's nodes
/// instead of one URL; everything else is the same:
///
/// ```no_run
/// use std::time::Duration;
///
/// use resilience_core::rate_limit::{RedisRateLimiter, StoreFailure};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let per_client = RedisRateLimiter::cluster_builder(["redis://10.0.0.1:6379", "redis://10.0.0.2:6379"])
///     .name("api")
///     .limit(600, Duration::from_secs(60))
///     .on_store_failure(StoreFailure::FailClosed)
///     .build()?;
/// # let _ = per_client; Ok(()) }
/// ```
///
/// Each check touches one key whose hash tag is the limit's name and the key
/// (`prefix{name:key}`), so one slot; different keys spread over the masters. (A prefix
/// with a hash tag of its own is refused on a cluster: it would put every key in one slot.)
///
/// **When a master fails**, checks of the keys on its slots are decided by
/// [`on_store_failure`](RedisRateLimiterBuilder::on_store_failure) within the timeout —
/// let through unchecked, or refused with `StoreUnavailable` — until the cluster has
/// promoted its replica; then the same limiter checks against Redis again, without a
/// restart (a check that failed because a node was gone makes the limiter find the
/// topology afresh, in the background). Keys on the other masters are checked as before.
/// In the failover test (loopback, `cluster-node-timeout` 1 s, timeout 200 ms), the first
/// checks were decided by the policy within the timeout of the kill, and checks were
/// answered by Redis again 2.1–2.9 s after it. A key's state that the dead master had
/// not yet passed to its replica is lost (the key starts full again: at most one burst
/// more); a check that the cluster client resent after a dropped connection may be
/// counted twice (it then refuses sooner, never admits more).
///
/// # Clone
///
/// Clones share the connection, the configuration and the pre-check table.
#[derive(Clone)]
pub struct RedisRateLimiter {
    shared: Arc<Shared>,
}

struct Shared {
    common: Common,
    /// Replaced by [`RedisRateLimiter::reconfigure`] when the timeout changes (the
    /// client's own connection and response timeouts are set when it is made).
    redis: ArcSwap<RedisClient>,
    /// What `redis` was made for, to make it again.
    endpoint: Endpoint,
    script: redis::Script,
    prefix: Box<[u8]>,
    /// The name, escaped for the hash tag.
    tag: Box<[u8]>,
    /// [`StoreFailure::FailClosed`]: refuse when Redis fails; else let calls through.
    fail_closed: AtomicBool,
    precheck: Option<KeyMap<Vec<u8>>>,
}

impl Shared {
    fn on_failure(&self) -> StoreFailure {
        if self.fail_closed.load(Ordering::Relaxed) {
            StoreFailure::FailClosed
        } else {
            StoreFailure::FailOpen
        }
    }
}

impl Owner for Shared {
    fn common(&self) -> &Common {
        &self.common
    }
}

/// A reply of the script.
struct Reply {
    admitted: bool,
    /// Microseconds: the wait (admitted) or the retry hint (refused).
    wait: u64,
    /// Microseconds until the key's bucket is full again.
    reset: u64,
}

impl RedisRateLimiter {
    /// A builder for a limiter on the Redis at `url` (`redis://host:port/db`); a rate is
    /// required.
    pub fn builder(url: impl Into<String>) -> RedisRateLimiterBuilder {
        RedisRateLimiterBuilder::new(Endpoint::Node(url.into()))
    }

    /// A builder for a limiter on a Redis Cluster, found from `nodes`: the URLs
    /// (`redis://host:port`) of some of its nodes; a rate is required. One reachable node
    /// is enough to discover the others. See [Redis Cluster](#redis-cluster) for what
    /// happens during a failover.
    pub fn cluster_builder<I, S>(nodes: I) -> RedisRateLimiterBuilder
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        RedisRateLimiterBuilder::new(Endpoint::cluster(nodes))
    }

    /// Whether this limiter is on a Redis Cluster.
    pub fn is_cluster(&self) -> bool {
        self.shared.redis.load().is_cluster()
    }

    /// Takes one unit for `key`, waiting for its turn as `max_wait` allows.
    pub fn acquire<K: RedisKey + ?Sized>(&self, key: &K) -> Acquire {
        self.check(key, 1, true)
    }

    /// [`acquire`](Self::acquire) for `n` units.
    pub fn acquire_n<K: RedisKey + ?Sized>(&self, key: &K, n: u32) -> Acquire {
        self.check(key, n, true)
    }

    /// Takes one unit for `key` if its limit has room now, never waiting for a turn (the
    /// round trip to Redis is still awaited).
    pub fn try_acquire<K: RedisKey + ?Sized>(&self, key: &K) -> Acquire {
        self.check(key, 1, false)
    }

    /// [`try_acquire`](Self::try_acquire) for `n` units.
    pub fn try_acquire_n<K: RedisKey + ?Sized>(&self, key: &K, n: u32) -> Acquire {
        self.check(key, n, false)
    }

    /// Checks that Redis answers (`PING`) within the timeout: for startup and readiness
    /// checks.
    ///
    /// # Errors
    ///
    /// [`StoreUnavailable`](crate::ErrorKind::StoreUnavailable) when it does not.
    pub async fn ping(&self) -> Result<(), Error> {
        let redis = self.shared.redis.load_full();
        let common = &self.shared.common;
        redis
            .bounded(
                async {
                    let mut conn = redis.connection().await?;
                    redis::cmd("PING").query_async::<()>(&mut conn).await
                },
                redis::RedisError::from,
            )
            .await
            .map_err(|err| common.unavailable(err))
    }

    /// How long one check may take before the failure policy decides.
    pub fn timeout(&self) -> Duration {
        self.shared.redis.load().timeout()
    }

    /// What a call gets when Redis fails.
    pub fn on_store_failure(&self) -> StoreFailure {
        self.shared.on_failure()
    }

    /// Applies `builder`'s rate, burst, `max_wait`, timeout and failure policy to this
    /// limiter in place, for every clone at once. The time already granted is kept, in
    /// Redis and in the local pre-check, as on
    /// [`RateLimiter::reconfigure`](super::RateLimiter::reconfigure); a new timeout
    /// makes a new client, whose connection is made by the next check (checks under way
    /// finish on the old one).
    ///
    /// Where the limits live is the limiter's identity and does not change: `builder`
    /// must have been made for the same Redis (the same URL or nodes) and have the same
    /// name, prefix and local pre-check — typically the builder the limiter was built
    /// from, with new rate options.
    ///
    /// ```
    /// use std::time::Duration;
    /// use resilience_core::rate_limit::{RedisRateLimiter, StoreFailure};
    ///
    /// let base = || RedisRateLimiter::builder("redis://127.0.0.1:6379/").name("api");
    /// let limiter = base().rate(10.0).build().unwrap();
    /// limiter
    ///     .reconfigure(
    ///         base()
    ///             .rate(20.0)
    ///             .timeout(Duration::from_millis(50))
    ///             .on_store_failure(StoreFailure::FailClosed),
    ///     )
    ///     .unwrap();
    /// assert_eq!(limiter.quota().rate(), 20.0);
    /// assert_eq!(limiter.timeout(), Duration::from_millis(50));
    /// assert_eq!(limiter.on_store_failure(), StoreFailure::FailClosed);
    /// assert!(limiter.reconfigure(base().name("other").rate(20.0)).is_err());
    /// ```
    ///
    /// # Errors
    ///
    /// The options are invalid, as [`build`](RedisRateLimiterBuilder::build) would say,
    /// or name another Redis, name, prefix or pre-check size; the limiter is unchanged
    /// then.
    pub fn reconfigure(&self, builder: RedisRateLimiterBuilder) -> Result<(), crate::ConfigError> {
        let shared = &*self.shared;
        let checked = builder.check()?;
        let p = crate::Primitive::RateLimit;
        let fixed = |option: &'static str| {
            crate::ConfigError::new(
                p,
                option,
                "cannot change on a live limiter: build another one",
            )
        };
        if builder.endpoint != shared.endpoint {
            return Err(fixed("url"));
        }
        if builder.spec.name != shared.common.name {
            return Err(fixed("name"));
        }
        if *builder.prefix != *shared.prefix {
            return Err(fixed("prefix"));
        }
        if builder.precheck_keys != shared.precheck.as_ref().map_or(0, KeyMap::capacity) {
            return Err(fixed("local_precheck"));
        }
        // A client for a new timeout is opened first (it can fail); everything is then
        // applied under the limiter's one writer lock.
        let redis = match checked.timeout != self.timeout() {
            true => Some(
                RedisClient::open(&shared.endpoint, checked.timeout)
                    .map_err(|err| shared.endpoint.refused(p, &err))?,
            ),
            false => None,
        };
        shared
            .common
            .reconfigure_then(checked.quota, checked.max_wait, || {
                if let Some(redis) = redis {
                    shared.redis.store(Arc::new(redis));
                }
                shared.fail_closed.store(
                    builder.on_failure == StoreFailure::FailClosed,
                    Ordering::Relaxed,
                );
            });
        Ok(())
    }

    /// The Redis key `key` is stored under.
    pub fn redis_key<K: RedisKey + ?Sized>(&self, key: &K) -> Vec<u8> {
        key::redis_key(&self.shared.prefix, &self.shared.tag, key)
    }

    /// The instance name.
    pub fn name(&self) -> &Name {
        &self.shared.common.name
    }

    /// The limit each key gets.
    pub fn quota(&self) -> Quota {
        self.shared.common.quota()
    }

    /// How long [`acquire`](Self::acquire) may wait for a turn.
    pub fn max_wait(&self) -> Duration {
        self.shared.common.max_wait()
    }

    // The remote step yields the next state of the `Acquire` (ready, or a booked wait),
    // which `Acquire` itself then drives: yielding a future is the point.
    #[allow(clippy::async_yields_async)]
    fn check<K: RedisKey + ?Sized>(&self, key: &K, n: u32, may_wait: bool) -> Acquire {
        let common = &self.shared.common;
        let gcra = common.gcra();
        let Some(cost) = gcra.cost(n) else {
            return Acquire::ready(Err(common.too_costly(n)));
        };
        let now = common.now();
        let (limit, by_deadline) = if may_wait && common.may_wait() {
            common.wait_limit()
        } else {
            (0, false)
        };
        let redis_key = self.redis_key(key);
        if let Some(precheck) = &self.shared.precheck {
            let blocked = precheck
                .get(&redis_key[..], |until| until.load(Ordering::Relaxed))
                .unwrap_or(0);
            let one_unit = blocked.saturating_sub(now);
            let retry_after = one_unit + u64::from(n - 1) * gcra.interval;
            if one_unit > 0 && retry_after > limit {
                let backlog = one_unit + gcra.tolerance - gcra.interval;
                return Acquire::ready(Err(common.refusal(retry_after, backlog, by_deadline)));
            }
        }
        let this = self.clone();
        let started = tokio::time::Instant::now();
        Acquire::remote(async move {
            let reply = this.eval(&redis_key, cost, limit).await;
            this.decide(reply, &redis_key, n, by_deadline, started)
        })
    }

    async fn eval(&self, redis_key: &[u8], cost: u64, limit: u64) -> Result<Reply, Error> {
        let shared = &*self.shared;
        let common = &shared.common;
        let redis = shared.redis.load_full();
        let micros = |ns: u64| ns as f64 / 1e3;
        let call = async {
            let mut conn = redis.connection().await?;
            shared
                .script
                .key(redis_key)
                .arg(micros(common.gcra().tolerance))
                .arg(micros(cost))
                .arg(micros(limit))
                .invoke_async::<redis::Value>(&mut conn)
                .await
        };
        let value = redis
            .bounded(call, redis::RedisError::from)
            .await
            .map_err(|err| common.unavailable(err))?;
        parse(&value)
            .ok_or_else(|| common.unavailable(format!("unexpected reply from redis: {value:?}")))
    }

    fn decide(
        &self,
        reply: Result<Reply, Error>,
        redis_key: &[u8],
        n: u32,
        by_deadline: bool,
        started: tokio::time::Instant,
    ) -> Acquire {
        let shared = &self.shared;
        let common = &shared.common;
        let reply = match reply {
            Ok(reply) => reply,
            Err(err) => return self.failed(err),
        };
        let now = common.now();
        let wait = reply.wait.saturating_mul(1_000);
        let reset = reply.reset.saturating_mul(1_000);
        let verdict = if reply.admitted {
            Verdict::Conform {
                tat: now.saturating_add(reset),
                wait,
            }
        } else {
            if let Some(precheck) = &shared.precheck {
                let until = now.saturating_add(common.gcra().retry_after_one(wait, n));
                precheck.with(redis_key, now, |blocked| {
                    blocked.fetch_max(until, Ordering::Relaxed)
                });
            }
            Verdict::Refuse {
                retry_after: wait.max(1),
                backlog: reset,
            }
        };
        common.resolve(verdict, now, by_deadline, || {
            let owner: Arc<dyn Owner> = shared.clone();
            Waiter::new(owner, 0, started)
        })
    }

    /// The store failed: the configured policy decides.
    #[cold]
    fn failed(&self, err: Error) -> Acquire {
        let common = &self.shared.common;
        match self.shared.on_failure() {
            StoreFailure::FailClosed => Acquire::ready(Err(err)),
            StoreFailure::FailOpen => {
                tracing::debug!(
                    rate_limit = common.name.as_str(),
                    error = %format_args!("{err:#}"),
                    "rate limit store failed; letting the call through"
                );
                common.grant(common.gcra(), 0);
                Acquire::ready(Ok(Grant::unchecked()))
            }
        }
    }
}

/// `{admitted, wait, reset}` with non-negative integers, or `None`.
fn parse(value: &redis::Value) -> Option<Reply> {
    let redis::Value::Array(items) = value else {
        return None;
    };
    let [admitted, wait, reset] = items.as_slice() else {
        return None;
    };
    let int = |v: &redis::Value| match v {
        redis::Value::Int(i) => u64::try_from(*i).ok(),
        _ => None,
    };
    let admitted = match int(admitted)? {
        0 => false,
        1 => true,
        _ => return None,
    };
    Some(Reply {
        admitted,
        wait: int(wait)?,
        reset: int(reset)?,
    })
}

impl fmt::Debug for RedisRateLimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shared = &*self.shared;
        f.debug_struct("RedisRateLimiter")
            .field("name", &shared.common.name.as_str())
            .field("rate", &shared.common.quota().rate())
            .field("burst", &shared.common.quota().burst())
            .field("prefix", &String::from_utf8_lossy(&shared.prefix))
            .field("cluster", &shared.redis.load().is_cluster())
            .field("timeout", &self.timeout())
            .field("on_store_failure", &shared.on_failure())
            .field(
                "local_precheck",
                &shared.precheck.as_ref().map(KeyMap::capacity),
            )
            .finish_non_exhaustive()
    }
}

impl RateLimit for RedisRateLimiter {
    fn name(&self) -> &Name {
        RedisRateLimiter::name(self)
    }

    fn quota(&self) -> Quota {
        RedisRateLimiter::quota(self)
    }
}

impl<K: RedisKey + ?Sized> RateLimitBy<K> for RedisRateLimiter {
    fn acquire_key(&self, key: &K, n: u32) -> Acquire {
        self.acquire_n(key, n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_scripts_own_replies_parse() {
        use redis::Value::{Array, Int, Nil, SimpleString};
        let ok = parse(&Array(vec![Int(1), Int(0), Int(500)])).unwrap();
        assert!(ok.admitted && ok.wait == 0 && ok.reset == 500);
        let no = parse(&Array(vec![Int(0), Int(7), Int(9)])).unwrap();
        assert!(!no.admitted && no.wait == 7);
        for garbage in [
            Nil,
            SimpleString("OK".into()),
            Array(vec![Int(1), Int(0)]),
            Array(vec![Int(2), Int(0), Int(0)]),
            Array(vec![Int(1), Int(-1), Int(0)]),
            Array(vec![Int(1), Nil, Int(0)]),
        ] {
            assert!(parse(&garbage).is_none(), "{garbage:?}");
        }
    }
}
