//! [`Registry::apply`]: validate a whole document, then apply it in place.

use std::sync::PoisonError;

use super::kinds::KeyError;
use super::{Settings, SettingsError, effective};
use crate::bulkhead::BulkheadBuilder;
use crate::circuit_breaker::CircuitBreakerBuilder;
use crate::rate_limit::RateLimiterBuilder;
use crate::retry::{RetryBudget, RetryBudgetBuilder};
use crate::telemetry::{label, metric, outcome};
use crate::throttle::AdaptiveThrottleBuilder;
use crate::{ConfigError, Registry};

/// A validated document: one builder per instance.
pub(super) struct Plan<'a> {
    breakers: Vec<(&'a str, CircuitBreakerBuilder)>,
    bulkheads: Vec<(&'a str, BulkheadBuilder)>,
    rate_limiters: Vec<(&'a str, RateLimiterBuilder)>,
    budgets: Vec<(&'a str, RetryBudgetBuilder, RetryBudget)>,
    throttles: Vec<(&'a str, AdaptiveThrottleBuilder)>,
}

fn at(kind: &str, name: &str, key: &str, problem: impl Into<String>) -> SettingsError {
    SettingsError::new(format!("{kind}.{name}.{key}"), problem)
}

fn key_error(kind: &str, name: &str, (key, problem): KeyError) -> SettingsError {
    at(kind, name, key, problem)
}

/// A builder's error, at the key of the option it names.
fn config_error(kind: &str, name: &str, e: &ConfigError) -> SettingsError {
    let key = match e.option() {
        "open_duration_growth max" => "open_duration_max",
        option => option,
    };
    at(kind, name, key, e.problem())
}

impl<'a> Plan<'a> {
    /// Validates every instance of `settings` (with its kind's defaults).
    pub(super) fn new(settings: &'a Settings) -> Result<Self, SettingsError> {
        const CB: &str = "circuit_breaker";
        const BH: &str = "bulkhead";
        const RL: &str = "rate_limiter";
        const RB: &str = "retry_budget";
        const TH: &str = "throttle";
        let mut plan = Plan {
            breakers: Vec::new(),
            bulkheads: Vec::new(),
            rate_limiters: Vec::new(),
            budgets: Vec::new(),
            throttles: Vec::new(),
        };
        for (name, s) in effective(&settings.circuit_breaker) {
            let b = s.builder().map_err(|e| key_error(CB, name, e))?;
            b.clone()
                .validate()
                .map_err(|e| config_error(CB, name, &e))?;
            plan.breakers.push((name, b));
        }
        for (name, s) in effective(&settings.bulkhead) {
            let b = s.builder();
            b.check().map_err(|e| config_error(BH, name, &e))?;
            plan.bulkheads.push((name, b));
        }
        for (name, s) in effective(&settings.rate_limiter) {
            let b = s.builder();
            b.clone().build().map_err(|e| config_error(RL, name, &e))?;
            plan.rate_limiters.push((name, b));
        }
        for (name, s) in effective(&settings.retry_budget) {
            let b = s.builder();
            let built = b.clone().build().map_err(|e| config_error(RB, name, &e))?;
            plan.budgets.push((name, b, built));
        }
        for (name, s) in effective(&settings.throttle) {
            let b = s.builder();
            b.check().map_err(|e| config_error(TH, name, &e))?;
            plan.throttles.push((name, b));
        }
        Ok(plan)
    }

    /// What the live instances of `registry` refuse to change.
    fn check_live(&self, registry: &Registry) -> Result<(), SettingsError> {
        for (name, _, built) in &self.budgets {
            if let Some(live) = registry.get_retry_budget(name)
                && live.ttl() != built.ttl()
            {
                return Err(at(
                    "retry_budget",
                    name,
                    "ttl",
                    format!(
                        "cannot change on a live budget ({:?} now, {:?} asked)",
                        live.ttl(),
                        built.ttl()
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Applies the plan: reconfigures the instances that exist, creates the others.
    fn apply(self, registry: &Registry) -> Result<(), ConfigError> {
        for (name, b) in self.breakers {
            let live = registry.circuit_breaker(name.to_owned(), |_| b.clone())?;
            live.reconfigure(b)?;
        }
        for (name, b) in self.bulkheads {
            let live = registry.bulkhead(name.to_owned(), |_| b.clone())?;
            live.reconfigure(b)?;
        }
        for (name, b) in self.rate_limiters {
            let live = registry.rate_limiter(name.to_owned(), |_| b.clone())?;
            live.reconfigure(b)?;
        }
        for (name, b, _) in self.budgets {
            let live = registry.retry_budget(name.to_owned(), |_| b.clone())?;
            live.reconfigure(b)?;
        }
        for (name, b) in self.throttles {
            let live = registry.throttle(name.to_owned(), |_| b.clone())?;
            live.reconfigure(b)?;
        }
        Ok(())
    }
}

impl Registry {
    /// A registry holding the instances `settings` names; see [`apply`](Self::apply).
    ///
    /// # Errors
    ///
    /// As [`apply`](Self::apply).
    pub fn from_settings(settings: &Settings) -> Result<Self, SettingsError> {
        let registry = Self::new();
        registry.apply(settings)?;
        Ok(registry)
    }

    /// Applies a configuration document: validates all of it, then updates every
    /// instance it names in place, creating those that do not exist yet. Instances it
    /// does not name are left as they are. See the [settings module](crate::settings)
    /// for what each kind keeps across a reload.
    ///
    /// Counts the outcome in `resilience_config_reloads_total{outcome}`; a rejected
    /// document is also logged at WARN.
    ///
    /// # Errors
    ///
    /// The first invalid key, with its full path; nothing has changed then. A key a live
    /// instance cannot change (a retry budget's `ttl`) is an error too.
    pub fn apply(&self, settings: &Settings) -> Result<(), SettingsError> {
        let _one_at_a_time = self
            .apply_lock
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let checked = Plan::new(settings).and_then(|plan| {
            plan.check_live(self)?;
            Ok(plan)
        });
        let plan = match checked {
            Ok(plan) => plan,
            Err(err) => {
                metrics::counter!(metric::CONFIG_RELOADS_TOTAL, label::OUTCOME => outcome::REJECTED)
                    .increment(1);
                tracing::warn!(
                    path = err.path(),
                    problem = err.problem(),
                    "configuration rejected; the running configuration is unchanged"
                );
                return Err(err);
            }
        };
        // Validated above, so this cannot fail.
        if let Err(err) = plan.apply(self) {
            tracing::error!(%err, "a validated configuration failed to apply");
        }
        metrics::counter!(metric::CONFIG_RELOADS_TOTAL, label::OUTCOME => outcome::APPLIED)
            .increment(1);
        tracing::info!("configuration applied");
        Ok(())
    }
}
