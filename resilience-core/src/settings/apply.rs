//! [`Registry::apply`]: validate a whole document, then apply it in place.

use std::sync::PoisonError;

use super::kinds::KeyError;
use super::{AdaptiveBulkheadSettings, HedgeSettings, Settings, SettingsError, effective};
use crate::bulkhead::BulkheadBuilder;
use crate::circuit_breaker::CircuitBreakerBuilder;
use crate::deadline::DeadlinePolicyBuilder;
use crate::fault::FaultBuilder;
use crate::hedge::HedgeBuilder;
use crate::rate_limit::RateLimiterBuilder;
use crate::retry::RetryPolicyBuilder;
use crate::retry::{RetryBudget, RetryBudgetBuilder};
use crate::telemetry::{label, metric, outcome};
use crate::throttle::AdaptiveThrottleBuilder;
use crate::{ConfigError, Primitive, Registry};

/// A validated document: one builder per instance.
pub(super) struct Plan<'a> {
    breakers: Vec<(&'a str, CircuitBreakerBuilder)>,
    bulkheads: Vec<(&'a str, BulkheadBuilder)>,
    rate_limiters: Vec<(&'a str, RateLimiterBuilder)>,
    budgets: Vec<(&'a str, RetryBudgetBuilder, RetryBudget)>,
    throttles: Vec<(&'a str, AdaptiveThrottleBuilder)>,
    /// The settings, for the named budget the builder gets at apply time.
    hedges: Vec<(&'a str, HedgeBuilder, HedgeSettings)>,
    /// The settings: an adaptive bulkhead's builder holds its algorithm, built anew for
    /// each use.
    adaptive_bulkheads: Vec<(&'a str, AdaptiveBulkheadSettings)>,
    faults: Vec<(&'a str, FaultBuilder)>,
    /// Each policy's builder, and the budget it names (applied after the budgets).
    retries: Vec<(&'a str, RetryPolicyBuilder, Option<String>)>,
    deadlines: Vec<(&'a str, DeadlinePolicyBuilder)>,
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

/// A retry policy builder's error, at the key of the option it names.
fn retry_error(name: &str, e: &ConfigError) -> SettingsError {
    let key = match e.option() {
        "backoff.factor" => "factor",
        "backoff.base" => "base",
        option => option,
    };
    at("retry", name, key, e.problem())
}

impl<'a> Plan<'a> {
    /// Validates every instance of `settings` (with its kind's defaults).
    pub(super) fn new(settings: &'a Settings) -> Result<Self, SettingsError> {
        const CB: &str = "circuit_breaker";
        const BH: &str = "bulkhead";
        const RL: &str = "rate_limiter";
        const RB: &str = "retry_budget";
        const TH: &str = "throttle";
        const HE: &str = "hedge";
        const AB: &str = "adaptive_bulkhead";
        const FA: &str = "fault";
        let mut plan = Plan {
            breakers: Vec::new(),
            bulkheads: Vec::new(),
            rate_limiters: Vec::new(),
            budgets: Vec::new(),
            throttles: Vec::new(),
            hedges: Vec::new(),
            adaptive_bulkheads: Vec::new(),
            faults: Vec::new(),
            retries: Vec::new(),
            deadlines: Vec::new(),
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
        for (name, s) in effective(&settings.hedge) {
            let b = s.builder().map_err(|e| key_error(HE, name, e))?;
            b.tuned(None).map_err(|e| config_error(HE, name, &e))?;
            plan.hedges.push((name, b, s));
        }
        for (name, s) in effective(&settings.adaptive_bulkhead) {
            let b = s.builder().map_err(|e| key_error(AB, name, e))?;
            b.check()
                .map(drop)
                .map_err(|e| config_error(AB, name, &e))?;
            plan.adaptive_bulkheads.push((name, s));
        }
        for (name, s) in effective(&settings.fault) {
            let b = s.builder().map_err(|e| key_error(FA, name, e))?;
            b.check()
                .map_err(|e| at(FA, name, super::fault::key(e.option()), e.problem()))?;
            plan.faults.push((name, b));
        }
        // Not created from a document: checked here, read by code.
        for (name, s) in effective(&settings.keyed_rate_limiter) {
            s.builder::<String>()
                .check()
                .map_err(|e| config_error("keyed_rate_limiter", name, &e))?;
        }
        for (name, s) in effective(&settings.redis_rate_limiter) {
            s.check()
                .map_err(|e| key_error("redis_rate_limiter", name, e))?;
        }
        for (name, s) in effective(&settings.coalescer) {
            s.builder::<(), ()>()
                .check()
                .map_err(|e| config_error("coalescer", name, &e))?;
        }
        for (name, s) in effective(&settings.fallback) {
            s.check().map_err(|e| key_error("fallback", name, e))?;
        }
        for (name, s) in effective(&settings.idempotency_store) {
            s.builder()
                .check()
                .map(drop)
                .map_err(|e| config_error("idempotency_store", name, &e))?;
        }
        plan.add_retries_and_deadlines(settings)?;
        Ok(plan)
    }

    /// Validates the `retry` and `deadline` tables. A retry policy's budget named in the
    /// document is checked here, one only a registry may hold in
    /// [`check_live`](Self::check_live).
    fn add_retries_and_deadlines(&mut self, settings: &'a Settings) -> Result<(), SettingsError> {
        const RT: &str = "retry";
        const DL: &str = "deadline";
        for (name, s) in effective(&settings.retry) {
            let b = s.builder().map_err(|e| key_error(RT, name, e))?;
            b.check().map_err(|e| retry_error(name, &e))?;
            self.retries
                .push((name, b, s.budget_name().map(str::to_owned)));
        }
        for (name, s) in effective(&settings.deadline) {
            let b = s.builder();
            b.check().map_err(|e| config_error(DL, name, &e))?;
            self.deadlines.push((name, b));
        }
        Ok(())
    }

    /// The first hedging or retry policy naming a retry budget that neither the document
    /// nor `registry` (if given) holds.
    fn check_budget_names(&self, registry: Option<&Registry>) -> Result<(), SettingsError> {
        let hedges = self
            .hedges
            .iter()
            .filter_map(|(name, _, s)| Some(("hedge", *name, s.budget_name()?)));
        let retries = self
            .retries
            .iter()
            .filter_map(|(name, _, budget)| Some(("retry", *name, budget.as_deref()?)));
        for (kind, name, budget) in hedges.chain(retries) {
            let known = self.budgets.iter().any(|(b, ..)| *b == budget)
                || registry.is_none_or(|r| r.get_retry_budget(budget).is_some());
            if !known {
                return Err(at(
                    kind,
                    name,
                    "budget",
                    format!("no retry budget named `{budget}` in the document or the registry"),
                ));
            }
        }
        Ok(())
    }

    /// What the live instances of `registry` refuse to change.
    fn check_live(&self, registry: &Registry) -> Result<(), SettingsError> {
        self.check_budget_names(Some(registry))?;
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
        // After the budgets: a hedge may name one of them.
        for (name, mut b, s) in self.hedges {
            if let Some(budget) = s.budget_name().and_then(|n| registry.get_retry_budget(n)) {
                b = b.budget(budget);
            }
            let live = registry.hedge(name.to_owned(), |_| b.clone())?;
            live.reconfigure(b)?;
        }
        for (name, s) in self.adaptive_bulkheads {
            let build = || {
                s.builder()
                    .map_err(|(key, problem)| ConfigError::new(Primitive::Bulkhead, key, problem))
            };
            let first = build()?;
            let live = registry.adaptive_bulkhead(name.to_owned(), |_| first)?;
            live.reconfigure(build()?)?;
        }
        for (name, b) in self.faults {
            let live = registry.fault(name.to_owned(), |_| b.clone())?;
            live.reconfigure(b)?;
        }
        for (name, mut b, budget) in self.retries {
            if let Some(budget) = budget.and_then(|n| registry.get_retry_budget(&n)) {
                b = b.budget(budget);
            }
            let live = registry.retry_policy(name.to_owned(), |_| b.clone())?;
            live.reconfigure(b)?;
        }
        for (name, b) in self.deadlines {
            let live = registry.deadline(name.to_owned(), |_| b.clone())?;
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
