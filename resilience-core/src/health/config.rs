//! [`HealthBuilder`]: the checks and timings of a [`Health`].

use std::fmt;
use std::ops::Deref;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use super::lifecycle::Lifecycle;
use super::primitives::RegistryChecks;
use super::slot::Slot;
use super::{Check, Health, Shared, StartupConfig};
use crate::config::check;
use crate::retry::{Backoff, Jitter, RetryPolicy};
use crate::{ConfigError, Name, Primitive, Registry};

/// Builds a [`Health`]; every setting has a default.
///
/// | setting | default | why |
/// |---|---|---|
/// | [`check_timeout`](Self::check_timeout) | 1 s | Kubernetes' default probe timeout: a probe that finds a result stale waits for the run, so a hung check fails about when the prober would give up anyway |
/// | [`interval`](Self::interval) | 5 s | at most one run per check every 5 s, however many probers ask |
/// | [`startup_timeout`](Self::startup_timeout) | 60 s | then startup fails and the process should exit |
/// | [`startup_backoff`](Self::startup_backoff) | exponential from 100 ms | with equal jitter, up to [`startup_max_delay`](Self::startup_max_delay) (5 s) |
/// | [`shutdown_delay`](Self::shutdown_delay) | 5 s | readiness fails this long before draining, so load balancers stop routing first |
/// | [`drain_timeout`](Self::drain_timeout) | 20 s | delay + drain fit Kubernetes' default 30 s termination grace period |
pub struct HealthBuilder {
    checks: Vec<Check>,
    startup_checks: Vec<Check>,
    registry: Option<Box<dyn Deref<Target = Registry> + Send + Sync>>,
    critical_breakers: Vec<Name>,
    check_timeout: Duration,
    interval: Duration,
    startup_timeout: Duration,
    startup_backoff: Backoff,
    startup_max_delay: Duration,
    shutdown_delay: Duration,
    drain_timeout: Duration,
}

impl Default for HealthBuilder {
    fn default() -> Self {
        Self {
            checks: Vec::new(),
            startup_checks: Vec::new(),
            registry: None,
            critical_breakers: Vec::new(),
            check_timeout: Duration::from_secs(1),
            interval: Duration::from_secs(5),
            startup_timeout: Duration::from_secs(60),
            startup_backoff: Backoff::exponential(Duration::from_millis(100)),
            startup_max_delay: Duration::from_secs(5),
            shutdown_delay: Duration::from_secs(5),
            drain_timeout: Duration::from_secs(20),
        }
    }
}

impl HealthBuilder {
    /// Adds a readiness check: readiness fails while it fails (or only warns, if the
    /// check is not [`critical`](Check::critical)).
    #[must_use]
    pub fn check(mut self, check: Check) -> Self {
        self.checks.push(check);
        self
    }

    /// Adds a startup check: readiness stays `fail` until every startup check has passed
    /// once, retried with backoff by [`Health::startup`] (migrations applied, a cache
    /// warmed, a database reachable at all). A check can be both a startup and a
    /// readiness check.
    #[must_use]
    pub fn startup_check(mut self, check: Check) -> Self {
        self.startup_checks.push(check);
        self
    }

    /// Lists every circuit breaker and bulkhead of `registry` in readiness (see the
    /// table in [`health`](super)): `&'static Registry` such as [`Registry::global`], or
    /// an `Arc<Registry>`.
    #[must_use]
    pub fn registry<R>(mut self, registry: R) -> Self
    where
        R: Deref<Target = Registry> + Send + Sync + 'static,
    {
        self.registry = Some(Box::new(registry));
        self
    }

    /// Makes readiness fail while the breaker named `name` is open (by default an open
    /// breaker only degrades readiness to `warn`: a shared dependency being down should
    /// not take every instance out of the load balancer). For a dependency without which
    /// the instance can answer nothing useful.
    #[must_use]
    pub fn critical_circuit_breaker(mut self, name: impl Into<Name>) -> Self {
        self.critical_breakers.push(name.into());
        self
    }

    /// The timeout of checks that do not set their own.
    #[must_use]
    pub fn check_timeout(mut self, timeout: Duration) -> Self {
        self.check_timeout = timeout;
        self
    }

    /// How long a check's result is served before a probe runs it again, for checks that
    /// do not set their own. Zero runs a check for every probe, still once for probes
    /// that arrive while it runs.
    #[must_use]
    pub fn interval(mut self, interval: Duration) -> Self {
        self.interval = interval;
        self
    }

    /// How long [`Health::startup`] retries the startup checks before giving up.
    #[must_use]
    pub fn startup_timeout(mut self, timeout: Duration) -> Self {
        self.startup_timeout = timeout;
        self
    }

    /// The delay curve between startup attempts (equal jitter is applied).
    #[must_use]
    pub fn startup_backoff(mut self, backoff: Backoff) -> Self {
        self.startup_backoff = backoff;
        self
    }

    /// The longest delay between startup attempts.
    #[must_use]
    pub fn startup_max_delay(mut self, max_delay: Duration) -> Self {
        self.startup_max_delay = max_delay;
        self
    }

    /// How long readiness fails before draining begins, while requests are still served:
    /// the time load balancers need to notice (Kubernetes: endpoint removal reaching every
    /// node). Zero drains at once.
    #[must_use]
    pub fn shutdown_delay(mut self, delay: Duration) -> Self {
        self.shutdown_delay = delay;
        self
    }

    /// How long in-flight requests get to finish once draining began; see
    /// [`Health::drain`].
    #[must_use]
    pub fn drain_timeout(mut self, timeout: Duration) -> Self {
        self.drain_timeout = timeout;
        self
    }

    /// Validates the settings.
    ///
    /// # Errors
    ///
    /// A zero timeout, a zero or non-finite startup backoff, a startup backoff base above
    /// its maximum delay, an empty check name, or two checks of the same kind (readiness,
    /// startup) with one name.
    pub fn build(self) -> Result<Health, ConfigError> {
        let p = Primitive::Health;
        check::nonzero_duration(p, "check_timeout", self.check_timeout)?;
        check::nonzero_duration(p, "startup_timeout", self.startup_timeout)?;
        check::nonzero_duration(p, "startup_max_delay", self.startup_max_delay)?;
        validate_backoff(self.startup_backoff)?;
        check::ordered(
            p,
            "startup_backoff",
            self.startup_backoff.base(),
            "startup_max_delay",
            self.startup_max_delay,
        )?;
        validate_checks("check", &self.checks)?;
        validate_checks("startup_check", &self.startup_checks)?;
        let slots = |checks: Vec<Check>, interval: Duration| -> Box<[Arc<Slot>]> {
            checks
                .into_iter()
                .map(|c| Arc::new(Slot::new(c, self.check_timeout, interval)))
                .collect()
        };
        let shared = Shared {
            slots: slots(self.checks, self.interval),
            // A startup attempt always runs its checks afresh.
            startup_slots: slots(self.startup_checks, Duration::ZERO),
            registry: self
                .registry
                .map(|r| RegistryChecks::new(r, self.critical_breakers)),
            startup: StartupConfig {
                timeout: self.startup_timeout,
                policy: RetryPolicy::builder()
                    .name("health.startup")
                    .max_attempts(u32::MAX)
                    .backoff(self.startup_backoff)
                    .max_delay(self.startup_max_delay)
                    .jitter(Jitter::Equal)
                    .max_elapsed(self.startup_timeout)
                    .no_budget()
                    .build()?,
            },
            shutdown_delay: self.shutdown_delay,
            drain_timeout: self.drain_timeout,
            lifecycle: Lifecycle::new(),
            created: Instant::now(),
            startup_reports: Mutex::default(),
            startup_running: tokio::sync::Mutex::const_new(()),
        };
        Ok(Health {
            shared: Arc::new(shared),
        })
    }
}

fn validate_backoff(backoff: Backoff) -> Result<(), ConfigError> {
    let p = Primitive::Health;
    check::nonzero_duration(p, "startup_backoff", backoff.base())?;
    if let Backoff::Exponential { factor, .. } = backoff {
        check::at_least_f64(p, "startup_backoff", factor, 1.0)?;
    }
    Ok(())
}

fn validate_checks(option: &'static str, checks: &[Check]) -> Result<(), ConfigError> {
    let p = Primitive::Health;
    for (i, c) in checks.iter().enumerate() {
        if c.name.is_empty() {
            return Err(ConfigError::new(p, option, "has an empty name"));
        }
        if let Some(timeout) = c.timeout {
            check::nonzero_duration(p, option, timeout).map_err(|_| {
                ConfigError::new(p, option, format!("`{}` has a zero timeout", c.name))
            })?;
        }
        if checks[..i].iter().any(|other| other.name == c.name) {
            return Err(ConfigError::new(
                p,
                option,
                format!("`{}` is registered twice", c.name),
            ));
        }
    }
    Ok(())
}

impl fmt::Debug for HealthBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HealthBuilder")
            .field("checks", &self.checks)
            .field("startup_checks", &self.startup_checks)
            .field("registry", &self.registry.is_some())
            .field("critical_breakers", &self.critical_breakers)
            .field("check_timeout", &self.check_timeout)
            .field("interval", &self.interval)
            .field("startup_timeout", &self.startup_timeout)
            .field("startup_backoff", &self.startup_backoff)
            .field("startup_max_delay", &self.startup_max_delay)
            .field("shutdown_delay", &self.shutdown_delay)
            .field("drain_timeout", &self.drain_timeout)
            .finish()
    }
}
