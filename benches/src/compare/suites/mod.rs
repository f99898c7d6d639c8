//! The comparisons, one module per primitive.

use std::convert::Infallible;
use std::future::{Ready, ready};
use std::task::{Context, Poll};

use super::Comparison;

mod baseline;

/// Every comparison, in report order.
#[must_use]
pub fn all() -> Vec<Comparison> {
    let mut all = Vec::new();
    all.extend(baseline::comparisons());
    all
}

/// The wrapped service every contender shares: always ready, answers at once.
#[derive(Debug, Clone, Copy, Default)]
pub struct Echo;

impl tower_service::Service<u64> for Echo {
    type Response = u64;
    type Error = Infallible;
    type Future = Ready<Result<u64, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: u64) -> Self::Future {
        ready(Ok(req))
    }
}

/// One ready-then-call of a tower service, as every layer contender runs it.
pub async fn call_once<S: tower_service::Service<u64>>(
    svc: &mut S,
) -> Result<S::Response, S::Error> {
    std::future::poll_fn(|cx| svc.poll_ready(cx)).await?;
    svc.call(std::hint::black_box(1)).await
}
