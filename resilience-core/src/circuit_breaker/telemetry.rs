//! Metrics handles, tracing events and the state-change hook of one breaker.

use std::sync::OnceLock;
use std::time::Duration;

use metrics::{Counter, Gauge, SharedString};

use super::State;
use super::config::Hook;
use crate::telemetry::{label, metric, outcome};
use crate::{Name, Primitive};

/// A state change, as passed to the hook set with
/// [`CircuitBreakerBuilder::on_state_change`](super::CircuitBreakerBuilder::on_state_change).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct StateChange {
    /// The breaker's name.
    pub name: Name,
    /// The state left.
    pub from: State,
    /// The state entered.
    pub to: State,
    /// When entering [`State::Open`]: how long it stays open before half-opening.
    pub open_for: Option<Duration>,
}

/// How a call ended, for the `outcome` label.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Judged {
    Success,
    Failure,
    /// Cut off by the ambient deadline: a failure, counted as `timeout`.
    TimedOut,
    Benign,
    /// The operation never reached the dependency (an inner primitive rejected it).
    Rejected,
    Cancelled,
}

/// Handles resolved once per breaker, so a call increments a counter and builds no label.
pub(crate) struct Telemetry {
    name: Name,
    success: Counter,
    failure: Counter,
    timeout: Counter,
    benign: Counter,
    rejected: Counter,
    cancelled: Counter,
    state: Gauge,
    /// `from × to`, resolved on first use: transitions are rare and most pairs never happen.
    transitions: [OnceLock<Counter>; 25],
    hook: Option<Hook>,
}

fn state_index(s: State) -> usize {
    State::ALL.iter().position(|x| *x == s).unwrap_or(0)
}

impl Telemetry {
    pub(crate) fn new(name: Name, hook: Option<Hook>) -> Self {
        let label_name = name.to_shared_string();
        let calls = |o: &'static str| {
            metrics::counter!(
                metric::CALLS_TOTAL,
                label::PRIMITIVE => Primitive::CircuitBreaker.as_str(),
                label::NAME => label_name.clone(),
                label::OUTCOME => o,
            )
        };
        let telemetry = Self {
            success: calls(outcome::SUCCESS),
            failure: calls(outcome::FAILURE),
            timeout: calls(outcome::TIMEOUT),
            benign: calls(outcome::BENIGN),
            rejected: calls(outcome::REJECTED),
            cancelled: calls(outcome::CANCELLED),
            state: metrics::gauge!(metric::CIRCUIT_STATE, label::NAME => label_name.clone()),
            transitions: Default::default(),
            name,
            hook,
        };
        telemetry.state.set(State::Closed.gauge_value());
        telemetry
    }

    pub(crate) fn name(&self) -> &Name {
        &self.name
    }

    #[inline(always)]
    pub(crate) fn count(&self, judged: Judged) {
        match judged {
            Judged::Success => &self.success,
            Judged::Failure => &self.failure,
            Judged::TimedOut => &self.timeout,
            Judged::Benign => &self.benign,
            Judged::Rejected => &self.rejected,
            Judged::Cancelled => &self.cancelled,
        }
        .increment(1);
    }

    /// A call the breaker itself refused.
    pub(crate) fn rejected(&self) {
        self.rejected.increment(1);
    }

    /// Sets the gauge; called while the transition lock is held so gauge writes are ordered.
    pub(crate) fn set_state(&self, state: State) {
        self.state.set(state.gauge_value());
    }

    /// The transitions counter, event and hook; called after the transition lock is released.
    pub(crate) fn transitioned(&self, from: State, to: State, open_for: Option<Duration>) {
        let counter = self.transitions[state_index(from) * 5 + state_index(to)].get_or_init(|| {
            let name: SharedString = self.name.to_shared_string();
            metrics::counter!(
                metric::CIRCUIT_TRANSITIONS_TOTAL,
                label::NAME => name,
                label::FROM => from.as_str(),
                label::TO => to.as_str(),
            )
        });
        counter.increment(1);
        let open_for_seconds = open_for.map(|d| d.as_secs_f64());
        if to.is_open() {
            tracing::warn!(
                circuit_breaker = %self.name,
                from = from.as_str(),
                to = to.as_str(),
                open_for_seconds,
                "circuit breaker opened",
            );
        } else {
            tracing::info!(
                circuit_breaker = %self.name,
                from = from.as_str(),
                to = to.as_str(),
                "circuit breaker {}",
                match to {
                    State::HalfOpen => "half-opened",
                    State::Closed => "closed",
                    _ => "disabled",
                },
            );
        }
        if let Some(hook) = &self.hook {
            hook(&StateChange {
                name: self.name.clone(),
                from,
                to,
                open_for,
            });
        }
    }
}

impl std::fmt::Debug for Telemetry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Telemetry")
            .field("name", &self.name)
            .field("hook", &self.hook.is_some())
            .finish_non_exhaustive()
    }
}
