//! Bounded retries: [`RetryPolicy`], with backoff and jitter, a shared [`RetryBudget`],
//! server hints and the ambient deadline.
//!
//! ```
//! use std::sync::atomic::{AtomicU32, Ordering};
//! use std::time::Duration;
//!
//! use resilience_core::retry::{Backoff, Jitter, RetryPolicy};
//! use resilience_core::{Error, ErrorKind};
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
//! let policy = RetryPolicy::builder()
//!     .name("inventory")
//!     .max_attempts(3)
//!     .backoff(Backoff::exponential(Duration::from_millis(50)))
//!     .max_delay(Duration::from_secs(1))
//!     .jitter(Jitter::Full)
//!     .attempt_timeout(Duration::from_millis(300))
//!     .build()
//!     .expect("valid policy");
//!
//! // A dependency that fails twice, then answers.
//! let calls = AtomicU32::new(0);
//! let stock = policy
//!     .run(|| async {
//!         match calls.fetch_add(1, Ordering::Relaxed) {
//!             0 | 1 => Err(std::io::Error::from(std::io::ErrorKind::ConnectionReset)),
//!             _ => Ok(42),
//!         }
//!     })
//!     .await
//!     .expect("third attempt succeeds");
//! assert_eq!((stock, calls.load(Ordering::Relaxed)), (42, 3));
//!
//! // A rejection without a hint is not retried: the protection said no.
//! let err = policy
//!     .run(|| async { Err::<u32, _>(Error::new(ErrorKind::BulkheadFull)) })
//!     .await
//!     .unwrap_err();
//! assert_eq!(err.kind(), ErrorKind::BulkheadFull);
//! assert_eq!(err.attempts(), Some(1));
//! # }
//! ```
//!
//! # Why bounded, three ways
//!
//! A retry hides a blip from users, and the same retry turns a small outage into a storm.
//! So every retry here is bounded in **count** (`max_attempts`), in **time** (never past
//! the deadline, see below) and in **share of traffic** (a [`RetryBudget`], on by
//! default: a dependency that fails sees at most about 20% more load, not three times as
//! much).
//!
//! # What is retried
//!
//! A classifier ([`Classify`](crate::Classify), default
//! [`TransientErrors`](crate::classify::TransientErrors)) gives each attempt's result a
//! [`Class`](crate::Class). Then, in this order:
//!
//! 1. `Success`: returned.
//! 2. `Permanent` and `Benign`: returned, never retried (a hint on them changes nothing;
//!    a `DeadlineExceeded` is `Permanent` by default, so it is never retried either).
//! 3. `Transient` from a **rejection** of an inner layer (an
//!    [`Error`](crate::Error) whose [`is_rejection`](crate::Error::is_rejection) is true:
//!    breaker open, bulkhead full, ...): retried only if it carries a `retry_after` hint
//!    that fits, that is: the checks below pass. Without a hint it is returned at once;
//!    hammering a layer that just protected the dependency defeats it.
//! 4. `Transient`: retried, unless
//!    - `max_attempts` attempts were made ([`Stop::MaxAttempts`]);
//!    - the hint is longer than `max_retry_after` (default: `max_delay`)
//!      ([`Stop::RetryAfterTooLong`]): the error goes back with the hint as its
//!      [`retry_after`](crate::Error::retry_after), for the caller to honour (its own hint
//!      if it has one, else the classifier's);
//!    - the delay would end at or past the deadline ([`Stop::Deadline`]);
//!    - the budget has no retry left ([`Stop::BudgetExhausted`]), checked last so that a
//!      refused retry never spends budget.
//!
//! The delay is the jittered backoff (see [`Backoff`], [`Jitter`]) but never shorter than
//! the hint: a server that says `Retry-After: 2` is not asked again in 100 ms.
//!
//! # Deadlines
//!
//! The call keeps to the ambient deadline ([`deadline::scope`](crate::deadline::scope)),
//! or to `max_elapsed` from its start if that is earlier. No delay ends past it: when the
//! next one would, the call stops and returns the last error, with field
//! `retry_stop=deadline`. Each attempt's timeout is clamped to what is left; an attempt cut
//! off by the deadline fails with `DeadlineExceeded` (not retried, `retry_stop=deadline`),
//! one cut off by its own `attempt_timeout` with `Timeout` (transient, retried). A
//! deadline already passed before the first attempt fails with `DeadlineExceeded`
//! (`retry_stop=deadline`) without calling the operation.
//!
//! # What error comes out
//!
//! - [`run`](RetryPolicy::run) / [`run_with`](RetryPolicy::run_with) return
//!   `Result<T, Error>`: the last error, converted with [`Error::wrap`](crate::Error::wrap)
//!   (your error stays downcastable), with `attempts`, `elapsed` and the field
//!   `retry_stop` (`not_retryable`, `max_attempts`, `retry_after_too_long`, `deadline`,
//!   `not_replayable`,
//!   `budget_exhausted`). When the budget refused, the kind is
//!   [`RetryBudgetExhausted`](crate::ErrorKind::RetryBudgetExhausted) and the last error
//!   its source: a caller sees that the dependency failed *and* that retries were
//!   withheld on purpose.
//! - [`run_typed`](RetryPolicy::run_typed) / [`run_typed_with`](RetryPolicy::run_typed_with)
//!   return `Result<T, E>` with `E: From<Error>` (as `#[resilient]` does): the last `E` as
//!   it is, so `match` on your own variants keeps working; only errors the policy makes
//!   (timeouts, deadline) come through `From`. When `E` is `Error`, it is enriched as by
//!   `run`.
//!
//! # Where the loop lives
//!
//! Once, in [`Retrying`]: a future that makes the first attempt, then asks its
//! [`Attempts`] for each further one — after the delay, after `Attempts::poll_ready`
//! (a tower service's readiness), never past the deadline. [`run`](RetryPolicy::run) is
//! `Retrying` over a closure; the tower retry layers are `Retrying` over replays of the
//! request. The decision after each attempt (and the error context a stopped call
//! carries) is [`RetryLoop::next`]; `#[resilient]` drives a [`RetryLoop`] in a loop it
//! writes out, because an attempt that reborrows `&mut self` cannot be handed over as a
//! closure.
//!
//! `elapsed` is measured from the call's start when `max_elapsed` is set; otherwise from
//! the end of the first failed attempt, because reading the clock on every successful
//! call would cost more than the rest of the policy.
//!
//! # Telemetry
//!
//! `resilience_retry_attempts_total{name, outcome}` counts every attempt (`success`,
//! `failure`, `benign`, `rejected`, `timeout`);
//! `resilience_retry_budget_exhausted_total{name}` counts refused retries. Each retry
//! emits an INFO event (target `resilience`) with `attempt`, `delay_seconds`, `class` and
//! `retry_after_seconds`; a budget refusal a WARN event, a deadline stop an INFO event.
//! Handles are resolved once, when the policy is built.

mod attempt;
mod backoff;
mod budget;
mod call;
mod config;
mod future;
#[cfg(all(test, loom))]
mod loom;
mod run;

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arc_swap::ArcSwap;

pub use attempt::{Attempt, Attempted, Next, RetryLoop};
pub use backoff::{Backoff, Jitter};
pub use budget::{RetryBudget, RetryBudgetBuilder};
pub use call::Stop;
pub use config::RetryPolicyBuilder;
pub use future::{Attempts, Retrying};

use crate::Name;
use crate::durations::unpack;

/// A retry policy: how often, how long apart, and within what budget to retry.
///
/// Build one with [`RetryPolicy::builder`]; run operations with
/// [`run`](RetryPolicy::run) or [`run_typed`](RetryPolicy::run_typed), or drive a call
/// yourself with [`Retrying`] (a future over your own [`Attempts`]) or
/// [`retry_loop`](RetryPolicy::retry_loop) (a loop you write).
///
/// # Defaults
///
/// | option | default | anchor |
/// |---|---|---|
/// | `max_attempts` | 3 | resilience4j, AWS SDKs (standard mode) |
/// | `backoff` | exponential from 100 ms, ×2 | a typical service-to-service round trip |
/// | `max_delay` | 10 s | half the AWS SDKs' 20 s cap (standard mode): service calls run under deadlines of seconds |
/// | `jitter` | full | AWS SDKs, the AWS article's recommendation |
/// | `attempt_timeout`, `max_elapsed` | none | the ambient deadline still applies |
/// | `max_retry_after` | `max_delay` | the longest wait you configured |
/// | budget | own, 20% + 10/s over 10 s | Finagle |
///
/// # Reconfiguring
///
/// [`reconfigure`](Self::reconfigure) (and a reloaded configuration document, see
/// [`settings`](crate::settings)) changes a live policy in place, for every clone. A call
/// reads the settings lazily, each when it needs it, so that a call that succeeds at once
/// reads no more than it did before reconfiguration existed: its start reads `max_elapsed`
/// and the budget it deposits in; each attempt the `attempt_timeout` in force when it
/// starts; each decision after a failure the backoff, `max_delay`, the jitter,
/// `max_retry_after` and the budget it withdraws from, as they are then. `max_attempts`
/// is read at the call's first failure and kept for the rest of the call, so a call makes
/// the attempts of either the old or the new settings, never a number in between.
///
/// # Clone
///
/// Clones share everything (an `Arc`): the configuration, the budget, the jitter seed's
/// counter and the metric handles. Per-call state lives in each call's [`RetryLoop`].
#[derive(Clone)]
pub struct RetryPolicy {
    shared: Arc<Shared>,
}

struct Shared {
    name: Name,
    seed: u64,
    calls: AtomicU64,
    meters: call::Meters,
    /// What the first attempt reads, as plain atomics so that a call that succeeds at once
    /// touches no reference count ([`pack`](crate::durations::pack)ed, 0 for none).
    attempt_timeout: AtomicU64,
    max_elapsed: AtomicU64,
    /// The budget the policy was built with, and whether it is still the one in force
    /// (else the first attempt deposits in `tuned`'s, one pointer load further).
    built_budget: Option<RetryBudget>,
    budget_is_built: AtomicBool,
    /// What a retry reads, swapped whole by [`RetryPolicy::reconfigure`].
    tuned: ArcSwap<Tuned>,
    /// The policy's own budget, once it has had one (kept across reconfigurations so that
    /// its balance is); the lock serialises `reconfigure`.
    own_budget: Mutex<Option<RetryBudget>>,
    /// How many times the policy was reconfigured: what follows its budget (a hedge of
    /// `#[resilient]` sharing it) compares it to the count it last saw.
    generation: AtomicU64,
}

/// The settings a call reads after a failure; see [`RetryPolicy`]'s "Reconfiguring".
#[derive(Debug)]
pub(crate) struct Tuned {
    max_attempts: u32,
    backoff: Backoff,
    max_delay: Duration,
    jitter: Jitter,
    max_retry_after: Duration,
    budget: Option<RetryBudget>,
}

impl RetryPolicy {
    /// A builder with the defaults in the table above.
    pub fn builder() -> RetryPolicyBuilder {
        RetryPolicyBuilder::default()
    }

    /// The instance name.
    pub fn name(&self) -> &Name {
        &self.shared.name
    }

    /// Attempts per call, the first included.
    pub fn max_attempts(&self) -> u32 {
        self.shared.tuned.load().max_attempts
    }

    /// The delay curve.
    pub fn backoff(&self) -> Backoff {
        self.shared.tuned.load().backoff
    }

    /// The cap of computed delays.
    pub fn max_delay(&self) -> Duration {
        self.shared.tuned.load().max_delay
    }

    /// The jitter.
    pub fn jitter(&self) -> Jitter {
        self.shared.tuned.load().jitter
    }

    /// The per-attempt timeout, if any.
    pub fn attempt_timeout(&self) -> Option<Duration> {
        unpack(self.shared.attempt_timeout.load(Relaxed))
    }

    /// The per-call time budget, if any.
    pub fn max_elapsed(&self) -> Option<Duration> {
        unpack(self.shared.max_elapsed.load(Relaxed))
    }

    /// The longest server hint this policy waits for.
    pub fn max_retry_after(&self) -> Duration {
        self.shared.tuned.load().max_retry_after
    }

    /// The retry budget in force, if any (a handle sharing its balance).
    pub fn budget(&self) -> Option<RetryBudget> {
        self.shared.tuned.load().budget.clone()
    }

    /// The settings now, for a health endpoint.
    pub fn snapshot(&self) -> RetryPolicySnapshot {
        let tuned = self.shared.tuned.load();
        RetryPolicySnapshot {
            name: self.shared.name.clone(),
            max_attempts: tuned.max_attempts,
            max_delay: tuned.max_delay,
            attempt_timeout: self.attempt_timeout(),
            max_elapsed: self.max_elapsed(),
            budget_balance: tuned.budget.as_ref().map(RetryBudget::balance),
        }
    }
}

/// A [`RetryPolicy`]'s settings and budget at one moment, from [`RetryPolicy::snapshot`].
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct RetryPolicySnapshot {
    /// The instance name.
    pub name: Name,
    /// Attempts per call, the first included.
    pub max_attempts: u32,
    /// The cap of computed delays (seconds, in JSON).
    #[cfg_attr(feature = "serde", serde(serialize_with = "crate::ser::duration_secs"))]
    pub max_delay: Duration,
    /// The per-attempt timeout, if any (seconds, in JSON).
    #[cfg_attr(
        feature = "serde",
        serde(serialize_with = "crate::ser::option_duration_secs")
    )]
    pub attempt_timeout: Option<Duration>,
    /// The per-call time budget, if any (seconds, in JSON).
    #[cfg_attr(
        feature = "serde",
        serde(serialize_with = "crate::ser::option_duration_secs")
    )]
    pub max_elapsed: Option<Duration>,
    /// The retries the budget in force allows now, if the policy has one.
    pub budget_balance: Option<f64>,
}

impl fmt::Debug for RetryPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &*self.shared;
        let t = s.tuned.load();
        f.debug_struct("RetryPolicy")
            .field("name", &s.name)
            .field("max_attempts", &t.max_attempts)
            .field("backoff", &t.backoff)
            .field("max_delay", &t.max_delay)
            .field("jitter", &t.jitter)
            .field("attempt_timeout", &self.attempt_timeout())
            .field("max_elapsed", &self.max_elapsed())
            .field("max_retry_after", &t.max_retry_after)
            .field("budget", &t.budget)
            .finish()
    }
}
