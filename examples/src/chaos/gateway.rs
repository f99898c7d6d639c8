//! The gateway: one handler, written the way a hurried service writes it, served twice.
//!
//! [`charge`] takes the order, forwards it to the payments upstream with whatever client it
//! was given, and turns every failure into an error with `?`. There is no timeout, no retry,
//! no limit, no idempotency check, no health signal: the code works in the demo and breaks
//! in production. The naive gateway serves it as is ([`naive`]); the hardened gateway
//! serves *the same function* wrapped in layers (see [`super::hardening`]), the only thing
//! a team would add to a service like this one.
//!
//! The one library type the handler touches is [`HttpError`], an `anyhow`-like error that
//! turns any `?` into a response (502 for a failed dependency). It is what makes a
//! resilience rejection raised *under* the handler (an open breaker in the client stack)
//! come out as 503 + `Retry-After` rather than as a generic failure.

use axum::extract::State;
use axum::http::{Request, Response, header};
use axum::routing::post;
use axum::{Json, Router};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use resilience_core::BoxError;
use resilience_tower::http::HttpError;
use std::net::SocketAddr;
use tower::ServiceExt;
use tower::util::BoxCloneSyncService;

use super::upstream::{ChargeRequest, Receipt};

/// The request the gateway sends upstream.
pub type UpstreamRequest = Request<Full<Bytes>>;
/// The response it gets back.
pub type UpstreamResponse = Response<Incoming>;
/// Any client for the upstream: a plain hyper client, or one wrapped in layers.
pub type UpstreamClient = BoxCloneSyncService<UpstreamRequest, UpstreamResponse, BoxError>;

/// What the handler needs: a client and where payments lives.
#[derive(Clone, Debug)]
pub struct Payments {
    client: UpstreamClient,
    charges_url: String,
}

impl Payments {
    /// The payments dependency at `upstream`, called through `client`.
    #[must_use]
    pub fn new(client: UpstreamClient, upstream: SocketAddr) -> Self {
        Self {
            client,
            charges_url: format!("http://{upstream}/v1/charges"),
        }
    }
}

/// A plain hyper client, as a hurried service builds it: pooled, HTTP/1, no timeout.
#[must_use]
pub fn plain_client() -> UpstreamClient {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    BoxCloneSyncService::new(client.map_err(BoxError::from))
}

/// `POST /charge`: charge the order through the payments upstream.
///
/// # Errors
///
/// Every failure, as an [`HttpError`] (502 unless it already is a resilience error).
pub async fn charge(
    State(payments): State<Payments>,
    Json(order): Json<ChargeRequest>,
) -> Result<Json<Receipt>, HttpError> {
    let request = Request::post(&payments.charges_url)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Full::from(serde_json::to_vec(&order)?))?;
    let response = payments.client.oneshot(request).await?;
    if !response.status().is_success() {
        return Err(format!("payments answered {}", response.status()).into());
    }
    let body = response.into_body().collect().await?.to_bytes();
    Ok(Json(serde_json::from_slice(&body)?))
}

/// The gateway's routes around [`charge`], with nothing added.
pub fn routes(payments: Payments) -> Router {
    Router::new()
        .route("/charge", post(charge))
        .with_state(payments)
}

/// The naive gateway: the routes as written, calling `upstream` with a plain client.
pub fn naive(upstream: SocketAddr) -> Router {
    routes(Payments::new(plain_client(), upstream))
}
