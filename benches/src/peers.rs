//! What the criterion benches, the loop examples and the `compare` suites share: the
//! trivial wrapped service and the glue a peer needs to do the same job as ours.

use std::convert::Infallible;
use std::future::{Ready, ready};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tower::retry::budget::{Budget, TpsBudget};

/// The wrapped service of the non-HTTP benchmarks: always ready, answers with the request.
#[derive(Debug, Clone, Copy, Default)]
pub struct Echo;

impl<R> tower_service::Service<R> for Echo {
    type Response = R;
    type Error = Infallible;
    type Future = Ready<Result<R, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: R) -> Self::Future {
        ready(Ok(req))
    }
}

/// tower's `Retry` policy with a `TpsBudget`, the way tower documents it: a success
/// deposits, a failure retries while retries are left and the budget allows.
#[derive(Clone, Debug)]
pub struct TowerBudgetPolicy {
    budget: Arc<TpsBudget>,
    retries_left: u32,
}

impl TowerBudgetPolicy {
    /// At most `retries` retries, with a budget shaped like ours by default: a 10 s
    /// window, a floor of 10 retries per second and 20% of calls.
    #[must_use]
    pub fn new(retries: u32) -> Self {
        Self {
            budget: Arc::new(TpsBudget::new(Duration::from_secs(10), 10, 0.2)),
            retries_left: retries,
        }
    }
}

impl<Req: Clone, Res, E> tower::retry::Policy<Req, Res, E> for TowerBudgetPolicy {
    type Future = Ready<()>;

    fn retry(&mut self, _: &mut Req, result: &mut Result<Res, E>) -> Option<Self::Future> {
        match result {
            Ok(_) => {
                self.budget.deposit();
                None
            }
            Err(_) if self.retries_left > 0 && self.budget.withdraw() => {
                self.retries_left -= 1;
                Some(ready(()))
            }
            Err(_) => None,
        }
    }

    fn clone_request(&mut self, req: &Req) -> Option<Req> {
        Some(req.clone())
    }
}
