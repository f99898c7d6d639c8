//! [`ResponseFuture`]: one call through [`Retry`](super::Retry) or
//! [`HttpRetry`](super::HttpRetry), attempt after attempt.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use pin_project_lite::pin_project;
use resilience_core::retry::{AttemptLimit, Decision, Outcome, RetryCall, RetryPolicy, Stop};
use resilience_core::{BoxError, Classify, Error};
use tokio::time::{Sleep, Timeout};
use tower_service::Service;

/// What a retry future keeps to make the request of each further attempt.
///
/// Every `Clone` request is its own template; HTTP requests use a buffered copy
/// ([`HttpRetry`](super::HttpRetry)).
pub trait Replay<Req> {
    /// A fresh copy of the request.
    fn replay(&self) -> Req;
}

impl<Req: Clone> Replay<Req> for Req {
    fn replay(&self) -> Req {
        self.clone()
    }
}

pin_project! {
    /// Response future of [`Retry`](super::Retry) and [`HttpRetry`](super::HttpRetry).
    #[must_use = "futures do nothing unless polled"]
    pub struct ResponseFuture<S, Req, C, T = Req>
    where
        S: Service<Req>,
    {
        #[pin]
        state: State<S::Future>,
        service: S,
        template: Option<T>,
        classifier: C,
        policy: RetryPolicy,
        call: RetryCall,
        limit: AttemptLimit,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F> {
        Running { #[pin] future: F },
        Timed { #[pin] future: Timeout<F> },
        Waiting { #[pin] sleep: Sleep },
        Polling,
        // `Polling` for a call with a deadline: no later than `until`.
        Readying { #[pin] until: Sleep },
        Expired,
        Done,
    }
}

impl<S, Req, C, T> ResponseFuture<S, Req, C, T>
where
    S: Service<Req>,
{
    /// Makes the first attempt with `request` on `service` (which must be ready) and keeps
    /// `template` (if any) for the others.
    #[inline]
    pub(crate) fn new(
        mut service: S,
        request: Req,
        template: Option<T>,
        classifier: C,
        policy: RetryPolicy,
        mut call: RetryCall,
    ) -> Self {
        if template.is_none() {
            call.set_replayable(false);
        }
        let limit = policy.attempt_limit(&call);
        let state = start(&mut service, request, limit);
        Self {
            state,
            service,
            template,
            classifier,
            policy,
            call,
            limit,
        }
    }
}

#[inline]
fn start<S: Service<Req>, Req>(
    service: &mut S,
    request: Req,
    limit: AttemptLimit,
) -> State<S::Future> {
    match limit {
        AttemptLimit::Unbounded => State::Running {
            future: service.call(request),
        },
        AttemptLimit::Within { timeout, .. } => State::Timed {
            future: tokio::time::timeout(timeout, service.call(request)),
        },
        AttemptLimit::Expired => State::Expired,
    }
}

/// The state that waits for readiness before a further attempt: bounded by the call's
/// deadline, if it has one.
fn polling<F>(call: &RetryCall) -> State<F> {
    match call.deadline() {
        Some(d) => State::Readying {
            until: tokio::time::sleep_until(d.instant()),
        },
        None => State::Polling,
    }
}

/// After the service answered `poll_ready`: the next attempt's limit and state, or the
/// error that ends the call.
fn next_attempt<S, Req, T>(
    service: &mut S,
    template: &Option<T>,
    policy: &RetryPolicy,
    call: &RetryCall,
    ready: Result<(), S::Error>,
) -> Result<(AttemptLimit, State<S::Future>), Error>
where
    S: Service<Req>,
    S::Error: Into<BoxError> + 'static,
    T: Replay<Req>,
{
    if let Err(err) = ready {
        return Err(policy.finish(call, Error::wrap(err), Stop::NotRetryable));
    }
    let Some(template) = template.as_ref() else {
        // Not reached: a call without a template stops at its first failure.
        let err = Error::new(resilience_core::ErrorKind::InvalidRequest);
        return Err(policy.finish(call, err, Stop::NotReplayable));
    };
    let limit = policy.attempt_limit(call);
    Ok((limit, start(service, template.replay(), limit)))
}

impl<S, Req, C, T> Future for ResponseFuture<S, Req, C, T>
where
    S: Service<Req>,
    S::Error: Into<BoxError> + 'static,
    C: Classify<S::Response, S::Error>,
    T: Replay<Req>,
{
    type Output = Result<S::Response, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            let result = match this.state.as_mut().project() {
                StateProj::Running { future } => Ok(ready!(future.poll(cx))),
                StateProj::Timed { future } => {
                    ready!(future.poll(cx)).map_err(|_| this.policy.limit_error(*this.limit))
                }
                StateProj::Expired => Err(this.policy.limit_error(*this.limit)),
                StateProj::Waiting { sleep } => {
                    ready!(sleep.poll(cx));
                    this.state.set(polling(this.call));
                    continue;
                }
                StateProj::Polling => {
                    // Re-poll readiness before every further attempt.
                    let ready = ready!(this.service.poll_ready(cx));
                    match next_attempt(this.service, this.template, this.policy, this.call, ready) {
                        Ok((limit, next)) => {
                            *this.limit = limit;
                            this.state.set(next);
                            continue;
                        }
                        Err(err) => {
                            this.state.set(State::Done);
                            return Poll::Ready(Err(err));
                        }
                    }
                }
                StateProj::Readying { until } => {
                    // The same, but not past the deadline: a service that stays busy must
                    // not hold the call longer.
                    let Poll::Ready(ready) = this.service.poll_ready(cx) else {
                        ready!(until.poll(cx));
                        this.state.set(State::Done);
                        let err = this.policy.limit_error(AttemptLimit::Expired);
                        let err = this.policy.finish(this.call, err, Stop::Deadline);
                        return Poll::Ready(Err(err));
                    };
                    match next_attempt(this.service, this.template, this.policy, this.call, ready) {
                        Ok((limit, next)) => {
                            *this.limit = limit;
                            this.state.set(next);
                            continue;
                        }
                        Err(err) => {
                            this.state.set(State::Done);
                            return Poll::Ready(Err(err));
                        }
                    }
                }
                StateProj::Done => panic!("retry ResponseFuture polled after completion"),
            };
            let outcome = match &result {
                Ok(result) => Outcome::of(this.classifier.classify(result), result),
                Err(ours) => Outcome::of_error(ours),
            };
            let stop = match this.policy.decide(this.call, outcome) {
                Decision::Retry { delay } => {
                    this.state.set(if delay.is_zero() {
                        polling(this.call)
                    } else {
                        State::Waiting {
                            sleep: tokio::time::sleep(delay),
                        }
                    });
                    continue;
                }
                Decision::Return => Stop::NotRetryable,
                Decision::Stop(stop) => stop,
            };
            this.state.set(State::Done);
            return Poll::Ready(match result {
                Ok(Ok(response)) => Ok(response),
                Ok(Err(err)) => Err(this.policy.finish(this.call, Error::wrap(err), stop)),
                Err(ours) => Err(this.policy.finish(this.call, ours, stop)),
            });
        }
    }
}

impl<S, Req, C, T> std::fmt::Debug for ResponseFuture<S, Req, C, T>
where
    S: Service<Req>,
{
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseFuture")
            .field("policy", &self.policy.name())
            .field("call", &self.call)
            .finish_non_exhaustive()
    }
}
