//! The comparisons, one module per primitive.
//!
//! Every comparison measures the success path: the wrapped operation answers at once, so
//! what is timed is what each contender adds. Each contender is configured to do the same
//! job as ours as closely as its API allows; each module says where they differ.

use std::convert::Infallible;
use std::future::{Ready, ready};
use std::task::{Context, Poll};

use super::Comparison;

pub use crate::peers::Echo;

mod adaptive;
mod baseline;
mod bulkhead;
mod circuit_breaker;
mod coalesce;
mod deadline;
mod fallback;
mod full_stack;
mod hedge;
mod idempotency;
mod macros;
mod rate_limit;
mod retry;

/// Every comparison, in report order.
#[must_use]
pub fn all() -> Vec<Comparison> {
    let mut all = Vec::new();
    all.extend(baseline::comparisons());
    all.extend(circuit_breaker::comparisons());
    all.extend(retry::comparisons());
    all.extend(bulkhead::comparisons());
    all.extend(adaptive::comparisons());
    all.extend(deadline::comparisons());
    all.extend(full_stack::comparisons());
    all.extend(macros::comparisons());
    all.extend(idempotency::comparisons());
    all.extend(hedge::comparisons());
    all.extend(fallback::comparisons());
    all.extend(coalesce::comparisons());
    all.extend(rate_limit::comparisons());
    all
}

/// The wrapped service of the HTTP comparisons: always ready, answers `200` with an empty
/// body (an `http::Response<()>` does not allocate).
#[derive(Debug, Clone, Copy, Default)]
pub struct HttpEcho;

impl<B> tower_service::Service<http::Request<B>> for HttpEcho {
    type Response = http::Response<()>;
    type Error = Infallible;
    type Future = Ready<Result<http::Response<()>, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: http::Request<B>) -> Self::Future {
        ready(Ok(http::Response::new(())))
    }
}

/// One ready-then-call of a tower service.
pub async fn call_once<S: tower_service::Service<R>, R>(
    svc: &mut S,
    req: R,
) -> Result<S::Response, S::Error> {
    std::future::poll_fn(|cx| svc.poll_ready(cx)).await?;
    svc.call(req).await
}

/// The request of the non-HTTP comparisons.
fn number() -> u64 {
    std::hint::black_box(1)
}

/// A request without a deadline header.
fn plain_request() -> http::Request<()> {
    http::Request::new(())
}

/// A request whose caller gave it one second.
fn request_with_deadline() -> http::Request<()> {
    let mut request = http::Request::new(());
    request.headers_mut().insert(
        resilience_core::deadline::codec::TIMEOUT_MS,
        http::HeaderValue::from_static("1000"),
    );
    request
}
