//! Tests that need a real Redis read its URL from [`REDIS_URL_VAR`], and those run against a
//! Redis Cluster read its nodes from [`CLUSTER_URLS_VAR`]. On a machine without them they
//! are skipped with a printed reason; CI sets [`REQUIRE_REDIS_VAR`]`=1` and
//! [`REQUIRE_CLUSTER_VAR`]`=1`, which turn a missing variable into a failure, so that a
//! broken CI setup cannot pass by skipping.
//!
//! [`Target`] (feature `redis`) is either of the two, so that one suite runs against both;
//! [`OwnCluster`] is a cluster of a test's own, for tests that kill one of its nodes.

use std::path::PathBuf;
use std::process::Command;

/// The variable holding the Redis URL for tests, e.g. `redis://127.0.0.1:6379/`.
pub const REDIS_URL_VAR: &str = "RESILIENCE_REDIS_URL";

/// The variable that, set to `1`, makes a missing [`REDIS_URL_VAR`] fail the test.
pub const REQUIRE_REDIS_VAR: &str = "RESILIENCE_REQUIRE_REDIS";

/// The variable holding the nodes of a Redis Cluster for tests, comma-separated, e.g.
/// `redis://127.0.0.1:7000/,redis://127.0.0.1:7001/` (`.ci/redis-cluster start` prints it).
pub const CLUSTER_URLS_VAR: &str = "RESILIENCE_REDIS_CLUSTER_URLS";

/// The variable that, set to `1`, makes a missing [`CLUSTER_URLS_VAR`] fail the test.
pub const REQUIRE_CLUSTER_VAR: &str = "RESILIENCE_REQUIRE_REDIS_CLUSTER";

/// The value of `var`, or `None` after printing why `test` is skipped.
///
/// # Panics
///
/// When `var` is not set and `require` is `1`.
fn var_or_skip(test: &str, var: &str, require: &str, example: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(value) if !value.is_empty() => Some(value),
        _ => {
            assert!(
                std::env::var(require).as_deref() != Ok("1"),
                "{test}: {var} is not set but {require}=1 requires it"
            );
            eprintln!("skipping {test}: set {var}={example} to run it");
            None
        }
    }
}

/// The Redis URL for tests, or `None` (after printing why `test` is skipped) when
/// [`REDIS_URL_VAR`] is not set.
///
/// # Panics
///
/// When [`REDIS_URL_VAR`] is not set and [`REQUIRE_REDIS_VAR`] is `1`: a test that must run
/// against Redis fails instead of passing silently.
#[must_use]
pub fn redis_url_or_skip(test: &str) -> Option<String> {
    var_or_skip(
        test,
        REDIS_URL_VAR,
        REQUIRE_REDIS_VAR,
        "redis://127.0.0.1:6379/",
    )
}

/// The nodes of the Redis Cluster for tests, or `None` (after printing why `test` is
/// skipped) when [`CLUSTER_URLS_VAR`] is not set.
///
/// # Panics
///
/// When [`CLUSTER_URLS_VAR`] is not set and [`REQUIRE_CLUSTER_VAR`] is `1`.
#[must_use]
pub fn cluster_urls_or_skip(test: &str) -> Option<Vec<String>> {
    var_or_skip(
        test,
        CLUSTER_URLS_VAR,
        REQUIRE_CLUSTER_VAR,
        "\"$(.ci/redis-cluster start /tmp/cluster)\"",
    )
    .map(|urls| split_urls(&urls))
}

fn split_urls(urls: &str) -> Vec<String> {
    urls.split(',')
        .map(str::trim)
        .filter(|url| !url.is_empty())
        .map(str::to_owned)
        .collect()
}

/// What a Redis-backed test runs against: one node or a cluster.
#[derive(Clone, Debug)]
pub enum Target {
    /// One Redis, by URL.
    Node(String),
    /// A Redis Cluster, by its nodes' URLs.
    Cluster(Vec<String>),
}

impl Target {
    /// The single Redis of [`REDIS_URL_VAR`], or a printed skip.
    #[must_use]
    pub fn node_or_skip(test: &str) -> Option<Self> {
        redis_url_or_skip(test).map(Self::Node)
    }

    /// The cluster of [`CLUSTER_URLS_VAR`], or a printed skip.
    #[must_use]
    pub fn cluster_or_skip(test: &str) -> Option<Self> {
        cluster_urls_or_skip(test).map(Self::Cluster)
    }

    /// Whether this is a cluster.
    #[must_use]
    pub fn is_cluster(&self) -> bool {
        matches!(self, Self::Cluster(_))
    }

    /// Runs `cmd` on a fresh connection (routed by its key on a cluster).
    ///
    /// # Panics
    ///
    /// When Redis cannot be reached or answers with an error: this is for a test's own
    /// checks and setup.
    #[cfg(feature = "redis")]
    pub async fn query<T: ::redis::FromRedisValue>(&self, cmd: &::redis::Cmd) -> T {
        let result = match self {
            Self::Node(url) => {
                let mut conn = ::redis::Client::open(url.as_str())
                    .expect("a redis URL")
                    .get_multiplexed_async_connection()
                    .await
                    .expect("redis is reachable");
                cmd.query_async(&mut conn).await
            }
            Self::Cluster(nodes) => {
                let mut conn = ::redis::cluster::ClusterClient::new(nodes.clone())
                    .expect("redis cluster URLs")
                    .get_async_connection()
                    .await
                    .expect("the redis cluster is reachable");
                cmd.query_async(&mut conn).await
            }
        };
        result.unwrap_or_else(|err| panic!("{cmd:?} failed: {err}"))
    }
}

/// The script that starts and stops throwaway clusters, shared with `.ci/run`.
fn cluster_script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.ci/redis-cluster")
}

/// A Redis Cluster of a test's own (three masters, three replicas, on loopback, node
/// timeout 1 s), for tests that kill a node; stopped when dropped.
#[derive(Debug)]
pub struct OwnCluster {
    dir: PathBuf,
    urls: Vec<String>,
}

impl OwnCluster {
    /// Starts a cluster with `.ci/redis-cluster`; `None` (after printing why) when it
    /// cannot be started and [`REQUIRE_CLUSTER_VAR`] is not `1`.
    ///
    /// # Panics
    ///
    /// When it cannot be started and [`REQUIRE_CLUSTER_VAR`] is `1`.
    #[must_use]
    pub fn start(test: &str) -> Option<Self> {
        let dir = std::env::temp_dir().join(format!(
            "resilience-cluster-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |since| since.as_nanos())
        ));
        let output = Command::new("bash")
            .arg(cluster_script())
            .arg("start")
            .arg(&dir)
            .output();
        match output {
            Ok(output) if output.status.success() => Some(Self {
                dir,
                urls: split_urls(&String::from_utf8_lossy(&output.stdout)),
            }),
            other => {
                let _ = std::fs::remove_dir_all(&dir);
                let why = match other {
                    Ok(output) => String::from_utf8_lossy(&output.stderr).into_owned(),
                    Err(err) => err.to_string(),
                };
                assert!(
                    std::env::var(REQUIRE_CLUSTER_VAR).as_deref() != Ok("1"),
                    "{test}: a redis cluster could not be started: {why}"
                );
                eprintln!("skipping {test}: a redis cluster could not be started: {why}");
                None
            }
        }
    }

    /// The nodes' URLs.
    #[must_use]
    pub fn urls(&self) -> &[String] {
        &self.urls
    }

    /// The cluster as a [`Target`].
    #[must_use]
    pub fn target(&self) -> Target {
        Target::Cluster(self.urls.clone())
    }

    /// The port of the master serving `key` now (asking the cluster for the slot).
    ///
    /// # Panics
    ///
    /// When the cluster cannot be asked.
    #[must_use]
    pub fn master_of(&self, key: &str) -> u16 {
        let any = self.live_port();
        let slot: u16 = cli(any, &["CLUSTER", "KEYSLOT", key])
            .trim()
            .parse()
            .expect("a slot number");
        assert_eq!(
            slot,
            key_slot(key.as_bytes()),
            "{key}: CRC16 disagrees with redis"
        );
        self.masters()
            .into_iter()
            .find_map(|(port, ranges)| ranges.iter().any(|r| r.contains(&slot)).then_some(port))
            .unwrap_or_else(|| panic!("no master serves slot {slot}"))
    }

    /// The masters that are up, with the slot ranges each serves.
    ///
    /// # Panics
    ///
    /// When the cluster cannot be asked.
    #[must_use]
    pub fn masters(&self) -> Vec<(u16, Vec<std::ops::RangeInclusive<u16>>)> {
        cli(self.live_port(), &["CLUSTER", "NODES"])
            .lines()
            .filter_map(|line| {
                let fields: Vec<&str> = line.split(' ').collect();
                if fields.len() < 8 || !fields[2].contains("master") || fields[2].contains("fail") {
                    return None;
                }
                let port = fields[1].split(['@', ':']).nth(1)?.parse().ok()?;
                let ranges = fields[8..].iter().filter_map(|r| slot_range(r)).collect();
                Some((port, ranges))
            })
            .collect()
    }

    /// Kills the node on `port` with `SIGKILL`, as a crash would.
    ///
    /// # Panics
    ///
    /// When the node's process id cannot be found or the kill fails.
    pub fn kill(&self, port: u16) {
        let info = cli(port, &["INFO", "server"]);
        let pid = info
            .lines()
            .find_map(|line| line.trim().strip_prefix("process_id:"))
            .expect("INFO server has process_id")
            .to_owned();
        let status = Command::new("kill")
            .args(["-9", &pid])
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -9 {pid} failed");
    }

    /// Waits until every replica of the master on `port` has everything the master has
    /// written (their replication offsets have caught up), so that killing the master now
    /// loses nothing.
    ///
    /// # Panics
    ///
    /// When the replicas do not catch up within 10 s.
    pub fn wait_replicated(&self, port: u16) {
        for _ in 0..1000 {
            let info = cli(port, &["INFO", "replication"]);
            let field = |name: &str| {
                info.lines()
                    .find_map(|line| line.trim().strip_prefix(name))
                    .map(str::to_owned)
            };
            let master: Option<u64> = field("master_repl_offset:").and_then(|v| v.parse().ok());
            let replicas: Vec<u64> = info
                .lines()
                .filter(|line| line.starts_with("slave"))
                .filter_map(|line| {
                    line.split(',')
                        .find_map(|part| part.strip_prefix("offset="))?
                        .trim()
                        .parse()
                        .ok()
                })
                .collect();
            if let Some(master) = master {
                if !replicas.is_empty() && replicas.iter().all(|&offset| offset >= master) {
                    return;
                }
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        panic!("the replicas of the master on port {port} did not catch up");
    }

    /// The port of a node that answers.
    fn live_port(&self) -> u16 {
        self.ports()
            .into_iter()
            .find(|&port| cli(port, &["PING"]).trim() == "PONG")
            .expect("a node of the cluster answers")
    }

    fn ports(&self) -> Vec<u16> {
        self.urls
            .iter()
            .filter_map(|url| {
                url.trim_start_matches("redis://")
                    .trim_end_matches('/')
                    .rsplit(':')
                    .next()?
                    .parse()
                    .ok()
            })
            .collect()
    }
}

impl Drop for OwnCluster {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(cluster_script())
            .arg("stop")
            .arg(&self.dir)
            .status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A slot range of `CLUSTER NODES` (`5461-10922` or `42`); `None` for a slot being
/// migrated (`[42->-id]`).
fn slot_range(range: &str) -> Option<std::ops::RangeInclusive<u16>> {
    let mut ends = range.splitn(2, '-').map(str::parse::<u16>);
    match (ends.next(), ends.next()) {
        (Some(Ok(start)), Some(Ok(end))) => Some(start..=end),
        (Some(Ok(only)), None) => Some(only..=only),
        _ => None,
    }
}

/// The cluster slot of `key`, as Redis computes it: CRC16 (XMODEM) of the key, or of its
/// hash tag (what is between the first `{` and the next `}`, if not empty), mod 16384.
#[must_use]
pub fn key_slot(key: &[u8]) -> u16 {
    let hashed = key
        .iter()
        .position(|&b| b == b'{')
        .and_then(|open| {
            let rest = &key[open + 1..];
            let close = rest.iter().position(|&b| b == b'}')?;
            (close > 0).then(|| &rest[..close])
        })
        .unwrap_or(key);
    let mut crc: u16 = 0;
    for &byte in hashed {
        crc ^= u16::from(byte) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc % 16_384
}

/// What `redis-cli -p port args...` prints (empty when it fails).
fn cli(port: u16, args: &[&str]) -> String {
    Command::new("redis-cli")
        .arg("-p")
        .arg(port.to_string())
        .args(args)
        .output()
        .map(|output| String::from_utf8_lossy(&output.stdout).into_owned())
        .unwrap_or_default()
}

/// Instantiates tests written once as `async fn name(target: Target)` against one Redis
/// (module `node`, [`Target::node_or_skip`]) and against a cluster (module `cluster`,
/// [`Target::cluster_or_skip`]), each with the test attribute given:
///
/// ```text
/// against_node_and_cluster! {
///     #[tokio::test] keys_live_under_the_prefix,
///     #[tokio::test(flavor = "multi_thread")] two_instances_share_one_limit,
/// }
/// ```
#[macro_export]
macro_rules! against_node_and_cluster {
    ($(#[$attr:meta] $test:ident),* $(,)?) => {
        mod node {
            $(
                #[$attr]
                async fn $test() {
                    let test = concat!(stringify!($test), " (one node)");
                    if let Some(target) = $crate::redis::Target::node_or_skip(test) {
                        super::$test(target).await;
                    }
                }
            )*
        }

        mod cluster {
            $(
                #[$attr]
                async fn $test() {
                    let test = concat!(stringify!($test), " (cluster)");
                    if let Some(target) = $crate::redis::Target::cluster_or_skip(test) {
                        super::$test(target).await;
                    }
                }
            )*
        }
    };
}

/// A server on 127.0.0.1 that accepts connections and answers every read with `reply`,
/// or never answers (`None`): a Redis that answers garbage, or hangs. Returns its URL and
/// the task serving it (abort it when done).
#[cfg(feature = "redis")]
pub async fn fake_redis(reply: Option<&'static [u8]>) -> (String, tokio::task::JoinHandle<()>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "redis://127.0.0.1:{}/",
        listener.local_addr().unwrap().port()
    );
    let server = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((mut socket, _)) = listener.accept().await {
            match reply {
                None => held.push(socket),
                Some(reply) => {
                    tokio::spawn(async move {
                        let mut buf = [0; 4096];
                        while let Ok(n) = socket.read(&mut buf).await {
                            if n == 0 || socket.write_all(reply).await.is_err() {
                                break;
                            }
                        }
                    });
                }
            }
        }
    });
    (url, server)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_slots_are_those_redis_computes() {
        // Values from `CLUSTER KEYSLOT` on Redis 7.
        assert_eq!(key_slot(b"foo"), 12_182);
        assert_eq!(key_slot(b"{user1000}.following"), key_slot(b"user1000"));
        // An empty first tag means no tag: the whole key is hashed.
        assert_eq!(key_slot(b"foo{}{bar}"), 8_363);
    }

    #[test]
    fn slot_ranges_of_cluster_nodes_are_read() {
        assert_eq!(slot_range("0-5460"), Some(0..=5460));
        assert_eq!(slot_range("42"), Some(42..=42));
        assert_eq!(slot_range("[42->-abc]"), None);
        assert_eq!(
            split_urls(" redis://a:1/, redis://b:2/ ,"),
            ["redis://a:1/", "redis://b:2/"]
        );
    }
}
