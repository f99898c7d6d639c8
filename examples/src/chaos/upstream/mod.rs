//! The "payments" upstream: a small axum service on 127.0.0.1 that charges cards with a
//! fixed pool of workers, and keeps a ledger of every charge it made.
//!
//! It behaves as a real payment processor does:
//!
//! - **Finite capacity.** A fixed number of workers take charges from a bounded
//!   first-in-first-out queue ([`pool`]); latency is service time plus the wait in the
//!   queue, so it grows with load. A full queue answers `503` with `Retry-After` at once.
//! - **Work outlives its caller.** A caller that hangs up does not take its charge out of
//!   the queue: it is done anyway, and the money taken. Only a deadline the caller sent
//!   along (the `connect-timeout-ms` header written by the hardened gateway's client, see
//!   [`DEADLINE_HEADER`]) stops it: skipped if it passed in the queue, stopped there
//!   (uncharged) if it comes mid-charge.
//! - **A bad day.** In front of the workers, faults by rate ([`Flaky`]: `503`s, delays,
//!   hangs), and the scenario's [`Event`]: an outage (every request hangs for a while) or
//!   an overload trigger (every charge takes several times as long for a few seconds).
//!
//! Every random draw is seeded, so two upstreams given the same script and the same
//! traffic behave alike.

mod ledger;
mod pool;
mod script;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use tokio::task::JoinHandle;
use tokio::time::Instant;

pub use self::ledger::{Ledger, LedgerSnapshot};
pub use self::script::{Event, Flaky, OutageMode, Script, Window};

use self::pool::{Answer, Pool};
use super::rng;

/// The header carrying the caller's remaining budget in milliseconds, as written by the
/// hardened gateway's deadline-propagating client.
pub const DEADLINE_HEADER: &str = "connect-timeout-ms";

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

/// A running upstream.
#[derive(Debug)]
pub struct Upstream {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its ledger.
    pub ledger: Arc<Ledger>,
    pool: Arc<Pool>,
    task: JoinHandle<()>,
}

impl Upstream {
    /// Starts an upstream on 127.0.0.1 (a free port) following `script`, with its event
    /// counted from `start`.
    ///
    /// # Errors
    ///
    /// When the listener cannot be bound.
    pub async fn start(script: Script, start: Instant) -> std::io::Result<Self> {
        let ledger = Arc::new(Ledger::default());
        let pool = Arc::new(Pool::new(script.clone(), start, Arc::clone(&ledger)));
        let faults = Arc::new(Faults {
            script: script.clone(),
            start,
            draws: AtomicU64::new(0),
        });
        let app = Router::new()
            .route("/v1/charges", post(charge))
            .with_state(Arc::clone(&pool))
            .layer(middleware::from_fn_with_state(faults, inject))
            .layer(middleware::from_fn_with_state(
                Arc::clone(&ledger),
                |State(ledger): State<Arc<Ledger>>, request: Request, next: Next| async move {
                    ledger.call();
                    next.run(request).await
                },
            ));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self {
            addr,
            ledger,
            pool,
            task,
        })
    }

    /// Ends the run: every charge still queued or running finishes at once, as it would
    /// have, and the ledger settles (or `at_most` passes).
    pub async fn settle(&self, at_most: Duration) {
        self.pool.fast_forward();
        self.ledger.settled(at_most).await;
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.task.abort();
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

async fn charge(State(pool): State<Arc<Pool>>, headers: HeaderMap, body: Bytes) -> Response {
    let received = Instant::now();
    let Ok(request) = serde_json::from_slice::<ChargeRequest>(&body) else {
        return (StatusCode::BAD_REQUEST, "malformed charge\n").into_response();
    };
    let deadline = headers
        .get(DEADLINE_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .map(|ms| received + Duration::from_millis(ms));
    let Some(answer) = pool.submit(request, deadline) else {
        return unavailable(Some(pool.retry_after()));
    };
    match answer.await {
        Ok(Answer::Charged(receipt)) => Json(receipt).into_response(),
        _ => (
            StatusCode::GATEWAY_TIMEOUT,
            "deadline passed before the charge; not charged\n",
        )
            .into_response(),
    }
}

/// The faults in front of the workers.
#[derive(Debug)]
struct Faults {
    script: Script,
    start: Instant,
    draws: AtomicU64,
}

/// Separates the fault draws from the other draws on the same seed.
const FAULT_SALT: u64 = 0x6661_756C;

async fn inject(State(faults): State<Arc<Faults>>, request: Request, next: Next) -> Response {
    let script = &faults.script;
    if let Event::Outage { window, mode } = script.event {
        if window.contains(faults.start.elapsed()) {
            return match mode {
                OutageMode::Hang => std::future::pending().await,
                OutageMode::Refuse => unavailable(None),
            };
        }
    }
    let n = faults.draws.fetch_add(1, Ordering::Relaxed);
    let draw = rng::mix(script.seed ^ FAULT_SALT ^ n.wrapping_mul(rng::GOLDEN));
    let (pick, spread) = (rng::unit(draw), rng::unit(rng::mix(draw)));
    let flaky = &script.flaky;
    if pick < flaky.error_rate {
        unavailable(Some(script.retry_after))
    } else if pick < flaky.error_rate + flaky.hang_rate {
        std::future::pending().await
    } else {
        if pick < flaky.error_rate + flaky.hang_rate + flaky.slow_rate {
            tokio::time::sleep(rng::between(flaky.slow, spread)).await;
        }
        next.run(request).await
    }
}
