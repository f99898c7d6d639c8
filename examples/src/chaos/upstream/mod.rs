//! The "payments" upstream: a small axum service on 127.0.0.1 that charges cards with a
//! fixed pool of workers, and keeps a ledger of every charge it made.
//!
//! It behaves as a real payment processor does:
//!
//! - **Finite capacity.** A fixed number of workers take charges from a bounded
//!   first-in-first-out queue (module `pool`); latency is service time plus the wait in the
//!   queue, so it grows with load. A full queue answers `503` with `Retry-After` at once.
//! - **Work outlives its caller.** A caller that hangs up does not take its charge out of
//!   the queue: it is done anyway, and the money taken. Only a deadline the caller sent
//!   along (the `connect-timeout-ms` header written by the hardened gateway's client, see
//!   [`DEADLINE_HEADER`]) stops it: skipped if it passed in the queue, stopped there
//!   (uncharged) if it comes mid-charge.
//! - **A bad day.** In front of the workers, faults by rate ([`Flaky`]: `503`s, delays,
//!   hangs), and the scenario's [`Event`]: an outage (every request hangs for a while) or
//!   an overload trigger (every charge takes several times as long for a few seconds).
//!   Both kinds of fault are the library's own [`FaultLayer`]: one seeded [`Fault`] always
//!   on for the background faults, and one switched on and off at run time for the outage.
//!
//! Every random draw is seeded, so two upstreams given the same script and the same
//! traffic behave alike.

mod ledger;
mod pool;
mod script;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Extension, Json, Router};
use bytes::Bytes;
use resilience_core::{BoxError, ConfigError};
use resilience_tower::fault::{Fault, FaultLayer};
use resilience_tower::http::HttpErrorLayer;
use serde::{Deserialize, Serialize};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tower::ServiceBuilder;

pub use self::ledger::{Ledger, LedgerSnapshot};
pub use self::script::{Event, Flaky, OutageMode, Script, Window};

use self::pool::{Answer, Pool};

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
    outage: JoinHandle<()>,
}

impl Upstream {
    /// Starts an upstream on 127.0.0.1 (a free port) following `script`, with its event
    /// counted from `start`.
    ///
    /// # Errors
    ///
    /// When the listener cannot be bound or the script's fault rates are invalid.
    pub async fn start(script: Script, start: Instant) -> Result<Self, BoxError> {
        let ledger = Arc::new(Ledger::default());
        let pool = Arc::new(Pool::new(script.clone(), start, Arc::clone(&ledger)));
        let (flaky, outage) = faults(&script)?;
        // A refusing outage answers 503 without `Retry-After`; a hanging one never answers.
        let outage_layer = FaultLayer::new(outage.clone()).status(StatusCode::SERVICE_UNAVAILABLE);
        let app = Router::new()
            .route("/v1/charges", post(charge))
            .with_state(Arc::clone(&pool))
            .layer(
                ServiceBuilder::new()
                    .layer(HttpErrorLayer::new())
                    // Outermost: during the outage no background fault is drawn.
                    .layer(outage_layer)
                    .layer(
                        FaultLayer::new(flaky)
                            .status(StatusCode::SERVICE_UNAVAILABLE)
                            .retry_after(script.retry_after),
                    ),
            )
            .layer(middleware::from_fn_with_state(
                Arc::clone(&ledger),
                |State(ledger): State<Arc<Ledger>>, mut request: Request, next: Next| async move {
                    ledger.call();
                    // The caller's deadline counts from arrival, before any injected delay:
                    // time lost inside this service is the caller's time too.
                    let deadline = Arrival::deadline(request.headers());
                    request.extensions_mut().insert(Arrival(deadline));
                    next.run(request).await
                },
            ));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        let outage = tokio::spawn(switch(outage, script.event, start));
        Ok(Self {
            addr,
            ledger,
            pool,
            task,
            outage,
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
        self.outage.abort();
    }
}

/// Separates the fault draws from the other draws on the same seed.
const FAULT_SALT: u64 = 0x6661_756C;

/// The script's faults: the background ones (on from the start) and the outage (off until
/// [`switch`] turns it on; every request hangs, or is refused, while it is).
fn faults(script: &Script) -> Result<(Fault, Fault), ConfigError> {
    let flaky = &script.flaky;
    let background = Fault::builder()
        .name("payments.flaky")
        .seed(script.seed ^ FAULT_SALT)
        .error_rate(flaky.error_rate)
        .hang_rate(flaky.hang_rate)
        .latency(flaky.slow_rate, flaky.slow.0, flaky.slow.1)
        .enabled(true)
        .build()?;
    let outage = Fault::builder().name("payments.outage");
    let outage = match script.event {
        Event::Outage {
            mode: OutageMode::Refuse,
            ..
        } => outage.error_rate(1.0),
        _ => outage.hang_rate(1.0),
    };
    Ok((background, outage.build()?))
}

/// Switches the outage on for its window (counted from `start`), at run time.
async fn switch(outage: Fault, event: Event, start: Instant) {
    if let Event::Outage { window, .. } = event {
        tokio::time::sleep_until(start + window.start).await;
        outage.enable();
        tokio::time::sleep_until(start + window.end()).await;
        outage.disable();
    }
}

/// A full queue's answer.
fn unavailable(retry_after: Duration) -> Response {
    let mut response = (StatusCode::SERVICE_UNAVAILABLE, "payments unavailable\n").into_response();
    response.headers_mut().insert(
        header::RETRY_AFTER,
        HeaderValue::from(retry_after.as_secs().max(1)),
    );
    response
}

/// The caller's deadline, read from [`DEADLINE_HEADER`] when the request arrived.
#[derive(Clone, Copy, Debug)]
struct Arrival(Option<Instant>);

impl Arrival {
    fn deadline(headers: &HeaderMap) -> Option<Instant> {
        headers
            .get(DEADLINE_HEADER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
            .map(|ms| Instant::now() + Duration::from_millis(ms))
    }
}

async fn charge(
    State(pool): State<Arc<Pool>>,
    Extension(Arrival(deadline)): Extension<Arrival>,
    body: Bytes,
) -> Response {
    let Ok(request) = serde_json::from_slice::<ChargeRequest>(&body) else {
        return (StatusCode::BAD_REQUEST, "malformed charge\n").into_response();
    };
    let Some(answer) = pool.submit(request, deadline) else {
        return unavailable(pool.retry_after());
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
