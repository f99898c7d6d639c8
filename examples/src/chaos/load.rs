//! The load: bounded clients that behave as real ones do.
//!
//! Payments arrive at a fixed rate whatever the gateway does (an open loop: a slow gateway
//! does not slow the arrivals down), each handled by one of a bounded pool of clients; a
//! payment that finds every client busy is not attempted and counts as failed.
//!
//! Each payment is a `POST /charge` carrying an `Idempotency-Key`. On a timeout, a lost
//! answer, a connection error, a 5xx, a 409 or a 429 the client waits (the server's
//! `Retry-After` when it sent one, plus up to a quarter of it as jitter; else exponential
//! backoff with jitter) and re-submits the
//! *same* payment with the *same* key, up to a number of attempts and for at most its
//! `patience` in total — so both gateways get the same time to succeed, however fast they
//! fail. Every attempt is recorded.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper::header::{CONTENT_TYPE, RETRY_AFTER};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::rng;
use super::upstream::ChargeRequest;

/// The shape of the load.
#[derive(Clone, Debug)]
pub struct LoadConfig {
    /// New payments per second (across all clients).
    pub rate: f64,
    /// Clients: payments in progress at once, at most.
    pub clients: usize,
    /// How long new payments keep arriving.
    pub duration: Duration,
    /// Attempts per payment (first try included).
    pub attempts: u32,
    /// How long a client keeps trying one payment, all attempts and waits included (a
    /// checkout page does not spin forever).
    pub patience: Duration,
    /// How long a client waits for an answer before it gives up on an attempt.
    pub timeout: Duration,
    /// Longest wait between attempts, whatever `Retry-After` says.
    pub max_backoff: Duration,
    /// Share of answers lost on the way back to the client (a dropped connection, a
    /// proxy reset): the gateway did the work, the client never saw the answer and sends
    /// the payment again.
    pub lost_rate: f64,
    /// Seed of the backoff jitter and the amounts.
    pub seed: u64,
}

impl Default for LoadConfig {
    fn default() -> Self {
        Self {
            rate: 75.0,
            clients: 512,
            duration: Duration::from_secs(20),
            attempts: 10,
            patience: Duration::from_secs(6),
            timeout: Duration::from_secs(2),
            max_backoff: Duration::from_secs(2),
            lost_rate: 0.02,
            seed: 7,
        }
    }
}

/// How one attempt ended, as the client saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// A 2xx answer.
    Ok {
        /// Whether the gateway replayed a stored answer (`Idempotent-Replayed: true`).
        replayed: bool,
    },
    /// Any other status; `kind` is the problem+json `kind`, when the body was one.
    Status {
        /// The status code.
        status: u16,
        /// The problem `kind` (`circuit_open`, `bulkhead_full`, ...), if any.
        kind: Option<String>,
    },
    /// No answer within the client's timeout.
    Timeout,
    /// The answer was lost on the way back (see [`LoadConfig::lost_rate`]).
    Lost,
    /// The connection failed.
    Connect,
}

impl Outcome {
    /// Whether the attempt succeeded.
    #[must_use]
    pub fn is_ok(&self) -> bool {
        matches!(self, Self::Ok { .. })
    }

    /// Whether a real client would try again.
    fn is_retryable(&self) -> bool {
        match self {
            Self::Ok { .. } => false,
            Self::Status { status, .. } => *status >= 500 || matches!(status, 408 | 409 | 429),
            Self::Timeout | Self::Lost | Self::Connect => true,
        }
    }
}

/// One attempt.
#[derive(Clone, Debug)]
pub struct Sample {
    /// When it started, from the start of the run.
    pub start: Duration,
    /// How long the client waited for its outcome.
    pub latency: Duration,
    /// How it ended.
    pub outcome: Outcome,
    /// Which payment it was for (its arrival number).
    pub payment: u64,
    /// Which attempt of its payment it was (1-based).
    pub attempt: u32,
}

/// Everything the load saw.
#[derive(Clone, Debug, Default)]
pub struct LoadResult {
    /// Every attempt, in no particular order.
    pub samples: Vec<Sample>,
    /// Payments started.
    pub payments: u64,
    /// Payments that ended with a 2xx answer.
    pub payments_ok: u64,
    /// The payments that ended with a 2xx answer, in no particular order.
    pub succeeded: Vec<Paid>,
    /// Payments that arrived while every client was busy, never attempted.
    pub unserved: u64,
}

/// A payment that ended with a 2xx answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Paid {
    /// Its arrival number.
    pub payment: u64,
    /// When its first attempt started, from the start of the run.
    pub started: Duration,
    /// When the 2xx answer came, from the start of the run.
    pub answered: Duration,
}

impl Paid {
    /// How long the customer waited: first attempt to the 2xx answer, re-submits included.
    #[must_use]
    pub fn latency(&self) -> Duration {
        self.answered.saturating_sub(self.started)
    }
}

/// Live counters for a progress display.
#[derive(Debug, Default)]
pub struct Progress {
    /// Attempts finished.
    pub attempts: AtomicU64,
    /// Attempts answered 2xx.
    pub ok: AtomicU64,
}

type HttpClient = Client<HttpConnector, Full<Bytes>>;

/// Separates the draw deciding a lost answer from the backoff jitter's.
const LOST_SALT: u64 = 0x6C6F_7374;

/// Drives the load at the gateway listening on `target`, with the run started at `start`.
pub async fn drive(
    target: SocketAddr,
    config: LoadConfig,
    start: Instant,
    progress: Arc<Progress>,
) -> LoadResult {
    let client: HttpClient = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(config.clients)
        .build_http();
    let url: Arc<str> = format!("http://{target}/charge").into();
    let clients = Arc::new(Semaphore::new(config.clients.max(1)));
    let config = Arc::new(config);
    let interval = Duration::from_secs_f64(1.0 / config.rate.max(0.001));
    let mut payments = JoinSet::new();
    let mut result = LoadResult::default();
    // Open loop: payments arrive on schedule however slow the gateway is. A payment that
    // finds every client busy is not attempted, and counts as failed.
    for seq in 0_u64.. {
        let arrival = interval.mul_f64(seq as f64);
        if arrival >= config.duration {
            break;
        }
        tokio::time::sleep_until(start + arrival).await;
        result.payments += 1;
        let Ok(busy) = Arc::clone(&clients).try_acquire_owned() else {
            result.unserved += 1;
            continue;
        };
        let (client, url, config, progress) = (
            client.clone(),
            Arc::clone(&url),
            Arc::clone(&config),
            Arc::clone(&progress),
        );
        payments.spawn(async move {
            let _busy = busy;
            pay(seq, &client, &url, &config, start, &progress).await
        });
    }
    while let Some(done) = payments.join_next().await {
        if let Ok((samples, paid)) = done {
            result.samples.extend(samples);
            if let Some(paid) = paid {
                result.payments_ok += 1;
                result.succeeded.push(paid);
            }
        }
    }
    result
}

/// The id (and `Idempotency-Key`) of the payment that arrived `seq`th.
#[must_use]
pub fn payment_id(seq: u64) -> String {
    format!("pay-{seq}")
}

/// One payment: attempts until a 2xx, a final answer, the attempts or the patience run out.
async fn pay(
    seq: u64,
    client: &HttpClient,
    url: &str,
    config: &LoadConfig,
    start: Instant,
    progress: &Progress,
) -> (Vec<Sample>, Option<Paid>) {
    let payment_id = payment_id(seq);
    let key = rng::mix(config.seed ^ rng::hash_str(&payment_id));
    let body = serde_json::to_vec(&ChargeRequest {
        payment_id: payment_id.clone(),
        amount_cents: 100 + key % 9_900,
    })
    .map(Bytes::from)
    .unwrap_or_default();
    // Retries stop at the client's patience, and once the run is over (plus one timeout).
    let give_up = (Instant::now() + config.patience).min(start + config.duration + config.timeout);
    let mut samples = Vec::new();
    let started = Instant::now().duration_since(start);
    for attempt in 1..=config.attempts {
        let began = Instant::now();
        let (mut outcome, mut retry_after) =
            send(client, url, &payment_id, body.clone(), config.timeout).await;
        let lost = rng::unit(rng::mix(key ^ LOST_SALT ^ u64::from(attempt))) < config.lost_rate;
        if lost && matches!(outcome, Outcome::Ok { .. } | Outcome::Status { .. }) {
            (outcome, retry_after) = (Outcome::Lost, None);
        }
        let (ok, retry) = (outcome.is_ok(), outcome.is_retryable());
        progress.attempts.fetch_add(1, Ordering::Relaxed);
        progress.ok.fetch_add(u64::from(ok), Ordering::Relaxed);
        samples.push(Sample {
            start: began.duration_since(start),
            latency: began.elapsed(),
            outcome,
            payment: seq,
            attempt,
        });
        let paid = ok.then(|| Paid {
            payment: seq,
            started,
            answered: Instant::now().duration_since(start),
        });
        if ok || !retry || attempt == config.attempts {
            return (samples, paid);
        }
        // Retry-After when the server sent one (plus up to a quarter of it, so clients
        // do not all come back in the same instant), else exponential backoff with jitter.
        let jitter = rng::unit(rng::mix(key ^ u64::from(attempt)));
        let backoff = retry_after.map_or_else(
            || Duration::from_millis(100 << attempt.min(6)).mul_f64(0.5 + jitter),
            |hint| hint.mul_f64(1.0 + jitter / 4.0),
        );
        let resume = Instant::now() + backoff.min(config.max_backoff);
        if resume >= give_up {
            break;
        }
        tokio::time::sleep_until(resume).await;
    }
    (samples, None)
}

async fn send(
    client: &HttpClient,
    url: &str,
    key: &str,
    body: Bytes,
    timeout: Duration,
) -> (Outcome, Option<Duration>) {
    let Ok(request) = Request::post(url)
        .header(CONTENT_TYPE, "application/json")
        .header("idempotency-key", key)
        .body(Full::new(body))
    else {
        return (Outcome::Connect, None);
    };
    let exchange = async {
        let response = client.request(request).await.ok()?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.into_body().collect().await.ok()?.to_bytes();
        Some((status, headers, body))
    };
    match tokio::time::timeout(timeout, exchange).await {
        Err(_) => (Outcome::Timeout, None),
        Ok(None) => (Outcome::Connect, None),
        Ok(Some((status, headers, body))) => {
            let retry_after = headers
                .get(RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs);
            let outcome = if status.is_success() {
                Outcome::Ok {
                    replayed: headers
                        .get("idempotent-replayed")
                        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"true")),
                }
            } else {
                Outcome::Status {
                    status: status.as_u16(),
                    kind: problem_kind(&body),
                }
            };
            (outcome, retry_after)
        }
    }
}

/// The `kind` member of a problem+json body.
fn problem_kind(body: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    Some(value.get("kind")?.as_str()?.to_owned())
}
