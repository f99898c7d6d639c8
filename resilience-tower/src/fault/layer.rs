use std::time::Duration;

use http::StatusCode;
use resilience_core::fault::FailWith;
use tower_layer::Layer;

use super::{Fault, FaultService, StatusAnswer};

/// Wraps services in a [`FaultService`] sharing one [`Fault`].
///
/// Error answers are `FaultInjected` errors by default; for an HTTP service, make them
/// responses with [`status`](Self::status). See the [module documentation](super).
#[derive(Clone, Debug)]
pub struct FaultLayer<A = FailWith> {
    fault: Fault,
    answer: A,
}

impl FaultLayer {
    /// A layer injecting `fault`'s draws; an error answer fails the call with
    /// [`ErrorKind::FaultInjected`](resilience_core::ErrorKind::FaultInjected).
    pub const fn new(fault: Fault) -> Self {
        Self {
            fault,
            answer: FailWith,
        }
    }
}

impl<A> FaultLayer<A> {
    /// Answers an HTTP service's error answers with an empty response of `status`
    /// instead (503, 500, 429 ...), as a failing server would.
    pub fn status(self, status: StatusCode) -> FaultLayer<StatusAnswer> {
        FaultLayer {
            fault: self.fault,
            answer: StatusAnswer::new(status),
        }
    }

    /// The fault this layer injects.
    pub fn fault(&self) -> &Fault {
        &self.fault
    }
}

impl FaultLayer<StatusAnswer> {
    /// Sends `Retry-After` (whole seconds, rounded up) with the error answers.
    pub fn retry_after(mut self, hint: Duration) -> Self {
        self.answer = self.answer.retry_after(hint);
        self
    }
}

impl<S, A: Clone> Layer<S> for FaultLayer<A> {
    type Service = FaultService<S, A>;

    fn layer(&self, inner: S) -> Self::Service {
        FaultService::new(inner, self.fault.clone(), self.answer.clone())
    }
}
