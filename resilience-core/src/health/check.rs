//! [`Check`]: one named dependency check, and what a run of it says ([`CheckOutcome`],
//! [`Status`]).

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use crate::idempotency::BoxFuture;
use crate::telemetry::health_status;
use crate::{BoxError, FieldValue, Name};

/// How healthy a service or one of its components is: the three statuses of the IETF
/// health check response format (draft-inadarei-api-health-check).
///
/// Ordered from best to worst, so the worst of several is their maximum. `Pass` and `Warn`
/// are answered with 200 (the service takes traffic), `Fail` with 503.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Status {
    /// Healthy.
    Pass,
    /// Healthy but degraded: a non-critical dependency is failing, a breaker is probing, a
    /// bulkhead is saturated.
    Warn,
    /// Unhealthy: do not send traffic here.
    Fail,
}

impl Status {
    /// `"pass"`, `"warn"` or `"fail"`, as the draft spells them (also the `status` label
    /// of [`HEALTH_CHECKS_TOTAL`](crate::telemetry::metric::HEALTH_CHECKS_TOTAL)).
    pub const fn as_str(self) -> &'static str {
        match self {
            Status::Pass => health_status::PASS,
            Status::Warn => health_status::WARN,
            Status::Fail => health_status::FAIL,
        }
    }

    /// Whether a service in this status should receive traffic: `Pass` and `Warn`.
    pub const fn is_healthy(self) -> bool {
        !matches!(self, Status::Fail)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A status serializes as `"pass"`, `"warn"` or `"fail"`.
#[cfg(feature = "serde")]
impl serde::Serialize for Status {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// What one run of a check found: a [`Status`], optionally an observed value with its unit
/// (`observedValue` / `observedUnit` in the draft: 12 connections, 3.5 ms), and for a
/// warning or failure the raw error text (`output`).
///
/// A check's closure may return a `CheckOutcome`, or a `Result<(), E>` /
/// `Result<CheckOutcome, E>`: `Err` is a failure whose output is the error's message and
/// its sources ([`IntoCheckOutcome`]).
///
/// ```
/// use resilience_core::health::{CheckOutcome, Status};
///
/// let pool = CheckOutcome::warn("pool nearly exhausted").observed(19_u64, "connections");
/// assert_eq!(pool.status(), Status::Warn);
/// assert_eq!(CheckOutcome::fail("connection refused").output(), Some("connection refused"));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct CheckOutcome {
    status: Status,
    observed_value: Option<FieldValue>,
    observed_unit: Option<Name>,
    output: Option<String>,
}

impl CheckOutcome {
    fn new(status: Status, output: Option<String>) -> Self {
        Self {
            status,
            observed_value: None,
            observed_unit: None,
            output,
        }
    }

    /// The component is healthy.
    pub fn pass() -> Self {
        Self::new(Status::Pass, None)
    }

    /// The component works but is degraded; `output` says how.
    pub fn warn(output: impl Into<String>) -> Self {
        Self::new(Status::Warn, Some(output.into()))
    }

    /// The component failed; `output` is the error text (not shown to probers unless the
    /// endpoint is configured to).
    pub fn fail(output: impl Into<String>) -> Self {
        Self::new(Status::Fail, Some(output.into()))
    }

    /// A failure whose output is `err`'s message followed by its sources
    /// (`"query failed: connection reset"`).
    pub fn from_error(err: impl Into<BoxError>) -> Self {
        let err = err.into();
        let mut output = err.to_string();
        let mut source = err.source();
        while let Some(cause) = source {
            output.push_str(": ");
            output.push_str(&cause.to_string());
            source = cause.source();
        }
        Self::fail(output)
    }

    /// Adds the value the check observed and its unit (`"ms"`, `"connections"`,
    /// `"ratio"`).
    #[must_use]
    pub fn observed(mut self, value: impl Into<FieldValue>, unit: impl Into<Name>) -> Self {
        self.observed_value = Some(value.into());
        self.observed_unit = Some(unit.into());
        self
    }

    /// The status.
    pub fn status(&self) -> Status {
        self.status
    }

    /// The observed value, if any.
    pub fn observed_value(&self) -> Option<&FieldValue> {
        self.observed_value.as_ref()
    }

    /// The observed value's unit, if any.
    pub fn observed_unit(&self) -> Option<&str> {
        self.observed_unit.as_deref()
    }

    /// The error text, if any.
    pub fn output(&self) -> Option<&str> {
        self.output.as_deref()
    }

    pub(crate) fn into_parts(self) -> (Status, Option<FieldValue>, Option<Name>, Option<String>) {
        (
            self.status,
            self.observed_value,
            self.observed_unit,
            self.output,
        )
    }
}

/// What a check's closure may return: a [`CheckOutcome`], `Result<(), E>` or
/// `Result<CheckOutcome, E>` for any `E: Into<BoxError>` (an `Err` is
/// [`CheckOutcome::from_error`]).
pub trait IntoCheckOutcome {
    /// The outcome.
    fn into_check_outcome(self) -> CheckOutcome;
}

impl IntoCheckOutcome for CheckOutcome {
    fn into_check_outcome(self) -> CheckOutcome {
        self
    }
}

impl<E: Into<BoxError>> IntoCheckOutcome for Result<(), E> {
    fn into_check_outcome(self) -> CheckOutcome {
        match self {
            Ok(()) => CheckOutcome::pass(),
            Err(err) => CheckOutcome::from_error(err),
        }
    }
}

impl<E: Into<BoxError>> IntoCheckOutcome for Result<CheckOutcome, E> {
    fn into_check_outcome(self) -> CheckOutcome {
        self.unwrap_or_else(CheckOutcome::from_error)
    }
}

type RunFn = dyn Fn() -> BoxFuture<'static, CheckOutcome> + Send + Sync;

/// A named async check of one dependency: a database ping, a Redis ping, an HTTP call.
///
/// The closure is called for each run and returns a future; the run is bounded by the
/// check's [`timeout`](Check::timeout) (a check that has not answered by then *fails*,
/// with output "did not answer within ..."), and its result is kept for the
/// [`interval`](Check::interval) so that many probes cost one run. Register it with
/// [`HealthBuilder::check`](super::HealthBuilder::check) (readiness) or
/// [`startup_check`](super::HealthBuilder::startup_check).
///
/// ```
/// use std::time::Duration;
/// use resilience_core::health::Check;
///
/// # async fn ping() -> Result<(), std::io::Error> { Ok(()) }
/// let postgres = Check::new("postgres", || async { ping().await })
///     .component_type("datastore")
///     .timeout(Duration::from_millis(500));
/// assert_eq!(postgres.name(), "postgres");
/// ```
///
/// # Naming
///
/// The name is the key of the check in the response's `checks` object. The draft suggests
/// `"component:measurement"` (`"postgres:responseTime"`); any non-empty name works, but
/// each must be unique within one [`Health`](super::Health). Names also label the
/// check's metrics, so they come from code or configuration, never from requests.
///
/// # Clone
///
/// Clones share the closure (an `Arc`); setters on a clone change only that clone.
#[derive(Clone)]
pub struct Check {
    pub(crate) name: Name,
    pub(crate) component_type: Option<Name>,
    pub(crate) timeout: Option<Duration>,
    pub(crate) interval: Option<Duration>,
    pub(crate) critical: bool,
    run: Arc<RunFn>,
}

impl Check {
    /// A check named `name` that runs `check()` and judges its output with
    /// [`IntoCheckOutcome`]. Critical, with the [`Health`](super::Health)'s default
    /// timeout and interval, until set otherwise.
    pub fn new<F, Fut>(name: impl Into<Name>, check: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future + Send + 'static,
        Fut::Output: IntoCheckOutcome,
    {
        Self {
            name: name.into(),
            component_type: None,
            timeout: None,
            interval: None,
            critical: true,
            run: Arc::new(move || {
                let run = check();
                Box::pin(async move { run.await.into_check_outcome() })
            }),
        }
    }

    /// The draft's `componentType`: `"datastore"`, `"component"`, `"system"`, or your own.
    #[must_use]
    pub fn component_type(mut self, component_type: impl Into<Name>) -> Self {
        self.component_type = Some(component_type.into());
        self
    }

    /// The longest a run may take; a run still going then fails. Default: the
    /// [`Health`'s](super::HealthBuilder::check_timeout).
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// How long a result is served before the next probe runs the check again. Default:
    /// the [`Health`'s](super::HealthBuilder::interval).
    #[must_use]
    pub fn interval(mut self, interval: Duration) -> Self {
        self.interval = Some(interval);
        self
    }

    /// Whether a failure of this check fails readiness (the default) or only degrades it
    /// to `warn`: a dependency the service can answer without (a recommendations
    /// service, a cache) should not take every instance out of the load balancer.
    #[must_use]
    pub fn critical(mut self, critical: bool) -> Self {
        self.critical = critical;
        self
    }

    /// The name.
    pub fn name(&self) -> &Name {
        &self.name
    }

    /// Starts one run (without timeout or caching: the caller adds them).
    pub(crate) fn start(&self) -> BoxFuture<'static, CheckOutcome> {
        (self.run)()
    }
}

impl fmt::Debug for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Check")
            .field("name", &self.name)
            .field("component_type", &self.component_type)
            .field("timeout", &self.timeout)
            .field("interval", &self.interval)
            .field("critical", &self.critical)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_order_from_best_to_worst() {
        assert!(Status::Pass < Status::Warn && Status::Warn < Status::Fail);
        assert_eq!(Status::Pass.max(Status::Fail), Status::Fail);
        assert!(Status::Warn.is_healthy());
        assert!(!Status::Fail.is_healthy());
    }

    #[test]
    fn an_error_becomes_a_failure_with_its_source_chain() {
        let err = crate::Error::wrap(std::io::Error::other("connection refused"))
            .with_detail("ping failed");
        let outcome = Err::<(), _>(err).into_check_outcome();
        assert_eq!(outcome.status(), Status::Fail);
        assert_eq!(
            outcome.output(),
            Some("operation failed: connection refused")
        );
        assert_eq!(
            Ok::<(), std::io::Error>(()).into_check_outcome(),
            CheckOutcome::pass()
        );
    }
}
