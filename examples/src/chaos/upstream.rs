//! The flaky "payments" upstream: a small axum service on 127.0.0.1 that charges cards
//! according to a seeded fault script, and keeps a ledger of every charge it executed.
//!
//! Its behaviour is that of a real payment processor on a bad day:
//!
//! - a share of requests gets `503 Service Unavailable` with `Retry-After` (nothing charged);
//! - a share is slow: the charge is executed, but the answer comes late;
//! - a share hangs: the request is accepted and never answered (nothing charged);
//! - during the outage window every request hangs (or, with [`OutageMode::Refuse`], gets a
//!   bare 503 at once), then the service recovers;
//! - it has a fixed capacity of concurrent requests, beyond which it answers 503 at once.
//!
//! A charge is a detached job: like a card network, it completes even when the caller
//! hangs up, so a caller that gives up and asks again charges twice. The service honours a
//! propagated deadline (the `connect-timeout-ms` header written by the hardened gateway's
//! client, see [`DEADLINE_HEADER`]): a charge that cannot complete before the caller's
//! deadline is abandoned uncharged, which is exactly what deadline propagation is for.
//!
//! Which fault hits a request is a pure function of the seed, the payment id and how many
//! times this upstream has seen that payment, so two upstreams given the same script and
//! the same traffic behave alike.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::rng;

/// The header carrying the caller's remaining budget in milliseconds, as written by the
/// hardened gateway's deadline-propagating client.
pub const DEADLINE_HEADER: &str = "connect-timeout-ms";

/// What happens to every request during the outage window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutageMode {
    /// Requests are accepted and never answered (a blackholed dependency).
    Hang,
    /// Requests get `503` at once, without `Retry-After` (a dead backend behind a proxy).
    Refuse,
}

/// The seeded fault script both upstreams follow.
#[derive(Clone, Debug)]
pub struct FaultScript {
    /// Seed of every random draw.
    pub seed: u64,
    /// Share of requests answered `503` with `Retry-After`, nothing charged.
    pub error_rate: f64,
    /// The `Retry-After` sent with those 503s.
    pub retry_after: Duration,
    /// Share of requests whose charge is slow.
    pub slow_rate: f64,
    /// Latency range of a slow charge.
    pub slow: (Duration, Duration),
    /// Share of requests that hang (accepted, never answered, nothing charged).
    pub hang_rate: f64,
    /// Latency range of a normal charge.
    pub latency: (Duration, Duration),
    /// When the outage starts, from the start of the run.
    pub outage_start: Duration,
    /// How long the outage lasts.
    pub outage_len: Duration,
    /// What the outage looks like.
    pub outage_mode: OutageMode,
    /// Requests processed at once; more get `503` immediately.
    pub capacity: usize,
}

impl Default for FaultScript {
    fn default() -> Self {
        Self {
            seed: 7,
            error_rate: 0.10,
            retry_after: Duration::from_secs(1),
            slow_rate: 0.08,
            slow: (Duration::from_millis(600), Duration::from_millis(4000)),
            hang_rate: 0.02,
            latency: (Duration::from_millis(15), Duration::from_millis(60)),
            outage_start: Duration::from_secs(10),
            outage_len: Duration::from_secs(8),
            outage_mode: OutageMode::Hang,
            capacity: 64,
        }
    }
}

impl FaultScript {
    /// The end of the outage window, from the start of the run.
    #[must_use]
    pub fn outage_end(&self) -> Duration {
        self.outage_start + self.outage_len
    }

    /// Whether `elapsed` (since the start of the run) falls in the outage window.
    #[must_use]
    pub fn in_outage(&self, elapsed: Duration) -> bool {
        elapsed >= self.outage_start && elapsed < self.outage_end()
    }

    /// The fault for the `nth` request (0-based) this upstream sees for `payment`.
    fn fault(&self, elapsed: Duration, payment: &str, nth: u64) -> Fault {
        if self.in_outage(elapsed) {
            return match self.outage_mode {
                OutageMode::Hang => Fault::Hang,
                OutageMode::Refuse => Fault::Refuse,
            };
        }
        let draw = rng::mix(self.seed ^ rng::hash_str(payment) ^ nth.wrapping_mul(rng::GOLDEN));
        let pick = rng::unit(draw);
        let spread = rng::unit(rng::mix(draw));
        if pick < self.error_rate {
            Fault::Unavailable(rng::between(self.latency, spread))
        } else if pick < self.error_rate + self.hang_rate {
            Fault::Hang
        } else if pick < self.error_rate + self.hang_rate + self.slow_rate {
            Fault::Charge(rng::between(self.slow, spread))
        } else {
            Fault::Charge(rng::between(self.latency, spread))
        }
    }
}

#[derive(Debug)]
enum Fault {
    Charge(Duration),
    Unavailable(Duration),
    Hang,
    Refuse,
}

/// A charge request, as the gateway forwards it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ChargeRequest {
    /// The client's payment id (one per logical payment, reused on every re-submission).
    pub payment_id: String,
    /// Amount in cents.
    pub amount_cents: u64,
}

/// A charge receipt.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Receipt {
    /// The processor's id for this charge.
    pub charge_id: String,
    /// The payment it charged.
    pub payment_id: String,
    /// Amount in cents.
    pub amount_cents: u64,
}

/// Counts kept by an upstream: every call it received and every charge it executed.
#[derive(Debug, Default)]
pub struct Ledger {
    calls: AtomicU64,
    overloaded: AtomicU64,
    abandoned: AtomicU64,
    pending: AtomicU64,
    next_charge: AtomicU64,
    payments: Mutex<HashMap<String, PaymentEntry>>,
}

#[derive(Debug, Default)]
struct PaymentEntry {
    seen: u64,
    charged: u64,
}

impl Ledger {
    fn arrive(&self, payment: &str) -> u64 {
        self.calls.fetch_add(1, Ordering::Relaxed);
        let mut payments = self.payments.lock().unwrap_or_else(PoisonError::into_inner);
        let entry = payments.entry(payment.to_owned()).or_default();
        entry.seen += 1;
        entry.seen - 1
    }

    fn charge(&self, payment: &str) -> u64 {
        let mut payments = self.payments.lock().unwrap_or_else(PoisonError::into_inner);
        payments.entry(payment.to_owned()).or_default().charged += 1;
        self.next_charge.fetch_add(1, Ordering::Relaxed)
    }

    /// Waits until no charge is running, or `at_most`.
    pub async fn settled(&self, at_most: Duration) {
        let give_up = Instant::now() + at_most;
        while self.pending.load(Ordering::Acquire) > 0 && Instant::now() < give_up {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// How many times `payment` was charged.
    #[must_use]
    pub fn charges_of(&self, payment: &str) -> u64 {
        let payments = self.payments.lock().unwrap_or_else(PoisonError::into_inner);
        payments.get(payment).map_or(0, |p| p.charged)
    }

    /// What the ledger shows now.
    #[must_use]
    pub fn snapshot(&self) -> LedgerSnapshot {
        let payments = self.payments.lock().unwrap_or_else(PoisonError::into_inner);
        let charged = payments.values().filter(|p| p.charged > 0).count() as u64;
        let duplicate_charges = payments.values().map(|p| p.charged.saturating_sub(1)).sum();
        LedgerSnapshot {
            calls: self.calls.load(Ordering::Relaxed),
            overloaded: self.overloaded.load(Ordering::Relaxed),
            abandoned: self.abandoned.load(Ordering::Relaxed),
            charged,
            duplicate_charges,
        }
    }
}

/// A point-in-time copy of a [`Ledger`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LedgerSnapshot {
    /// Requests received (every attempt, from every caller).
    pub calls: u64,
    /// Requests refused because the upstream was at capacity.
    pub overloaded: u64,
    /// Charges abandoned uncharged because the caller's propagated deadline passed.
    pub abandoned: u64,
    /// Distinct payments charged at least once.
    pub charged: u64,
    /// Charges beyond the first for the same payment: money taken twice.
    pub duplicate_charges: u64,
}

struct Shared {
    script: FaultScript,
    start: Instant,
    ledger: Arc<Ledger>,
    capacity: Arc<Semaphore>,
}

/// A running upstream.
#[derive(Debug)]
pub struct Upstream {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its ledger.
    pub ledger: Arc<Ledger>,
    task: JoinHandle<()>,
}

impl Upstream {
    /// Starts an upstream on 127.0.0.1 (a free port) following `script`, with the outage
    /// window counted from `start`.
    ///
    /// # Errors
    ///
    /// When the listener cannot be bound.
    pub async fn start(script: FaultScript, start: Instant) -> std::io::Result<Self> {
        let ledger = Arc::new(Ledger::default());
        let shared = Arc::new(Shared {
            capacity: Arc::new(Semaphore::new(script.capacity.max(1))),
            script,
            start,
            ledger: Arc::clone(&ledger),
        });
        let app = Router::new()
            .route("/v1/charges", post(charge))
            .with_state(shared);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self { addr, ledger, task })
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Counts a running charge job until dropped.
struct Pending<'a>(&'a Ledger);

impl Drop for Pending<'_> {
    fn drop(&mut self) {
        self.0.pending.fetch_sub(1, Ordering::AcqRel);
    }
}

fn unavailable(retry_after: Option<Duration>) -> Response {
    let mut response = (StatusCode::SERVICE_UNAVAILABLE, "payments unavailable\n").into_response();
    if let Some(hint) = retry_after {
        response.headers_mut().insert(
            header::RETRY_AFTER,
            HeaderValue::from(hint.as_secs().max(1)),
        );
    }
    response
}

async fn charge(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let received = Instant::now();
    let Ok(request) = serde_json::from_slice::<ChargeRequest>(&body) else {
        return (StatusCode::BAD_REQUEST, "malformed charge\n").into_response();
    };
    let nth = shared.ledger.arrive(&request.payment_id);
    let Ok(slot) = Arc::clone(&shared.capacity).try_acquire_owned() else {
        shared.ledger.overloaded.fetch_add(1, Ordering::Relaxed);
        return unavailable(Some(shared.script.retry_after));
    };
    let deadline = headers
        .get(DEADLINE_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .map(|ms| received + Duration::from_millis(ms));

    let elapsed = received.duration_since(shared.start);
    match shared.script.fault(elapsed, &request.payment_id, nth) {
        Fault::Refuse => unavailable(None),
        Fault::Hang => {
            let _slot = slot;
            std::future::pending::<Response>().await
        }
        Fault::Unavailable(latency) => {
            let _slot = slot;
            tokio::time::sleep(latency).await;
            unavailable(Some(shared.script.retry_after))
        }
        Fault::Charge(latency) => {
            // The charge runs detached: hanging up does not cancel it.
            let ledger = Arc::clone(&shared.ledger);
            ledger.pending.fetch_add(1, Ordering::AcqRel);
            let job = tokio::spawn(async move {
                let _slot = slot;
                let _pending = Pending(&ledger);
                let done = received + latency;
                if let Some(deadline) = deadline.filter(|d| *d < done) {
                    tokio::time::sleep_until(deadline).await;
                    ledger.abandoned.fetch_add(1, Ordering::Relaxed);
                    return None;
                }
                tokio::time::sleep_until(done).await;
                let id = ledger.charge(&request.payment_id);
                Some(Receipt {
                    charge_id: format!("ch_{id:06}"),
                    payment_id: request.payment_id,
                    amount_cents: request.amount_cents,
                })
            });
            match job.await {
                Ok(Some(receipt)) => Json(receipt).into_response(),
                _ => (
                    StatusCode::GATEWAY_TIMEOUT,
                    "deadline passed before the charge; not charged\n",
                )
                    .into_response(),
            }
        }
    }
}
