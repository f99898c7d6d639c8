//! [`RetryPolicyBuilder`]: the validated configuration of a [`RetryPolicy`].

use std::hash::BuildHasher;
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use arc_swap::ArcSwap;

use super::backoff::{Backoff, Jitter};
use super::call::Meters;
use super::{RetryBudget, RetryPolicy, Shared, Tuned};
use crate::config::check;
use crate::durations::pack;
use crate::{ConfigError, Name, Primitive};

/// Builds a [`RetryPolicy`]; see [`RetryPolicy::builder`] for the defaults.
#[derive(Clone, Debug)]
#[must_use]
pub struct RetryPolicyBuilder {
    name: Name,
    max_attempts: u32,
    backoff: Backoff,
    max_delay: Duration,
    jitter: Jitter,
    attempt_timeout: Option<Duration>,
    max_elapsed: Option<Duration>,
    max_retry_after: Option<Duration>,
    budget: BudgetChoice,
    seed: Option<u64>,
}

#[derive(Clone, Debug)]
enum BudgetChoice {
    Own,
    Shared(RetryBudget),
    None,
}

impl Default for RetryPolicyBuilder {
    fn default() -> Self {
        Self {
            name: Name::from_static("default"),
            max_attempts: 3,
            backoff: Backoff::exponential(Duration::from_millis(100)),
            max_delay: Duration::from_secs(10),
            jitter: Jitter::Full,
            attempt_timeout: None,
            max_elapsed: None,
            max_retry_after: None,
            budget: BudgetChoice::Own,
            seed: None,
        }
    }
}

impl RetryPolicyBuilder {
    /// The instance name, for metric labels and error context. Default `"default"`.
    pub fn name(mut self, name: impl Into<Name>) -> Self {
        self.name = name.into();
        self
    }

    /// Attempts per call, the first included; at least 1 (1 means "never retry").
    /// Default 3, as resilience4j and the AWS SDKs' standard mode.
    pub fn max_attempts(mut self, max_attempts: u32) -> Self {
        self.max_attempts = max_attempts;
        self
    }

    /// The delay curve. Default exponential from 100 ms, doubling.
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// The longest computed delay (the cap of the curve and of the jitter). Must not be
    /// below the backoff's base. Default 10 s: half the AWS SDKs' 20 s cap (standard
    /// mode), as service-to-service calls run under deadlines of seconds.
    pub fn max_delay(mut self, max_delay: Duration) -> Self {
        self.max_delay = max_delay;
        self
    }

    /// The jitter. Default [`Jitter::Full`], as the AWS SDKs.
    pub fn jitter(mut self, jitter: Jitter) -> Self {
        self.jitter = jitter;
        self
    }

    /// A timeout for each attempt; an attempt that takes longer is abandoned with
    /// [`ErrorKind::Timeout`](crate::ErrorKind::Timeout) (transient: retried). Clamped to
    /// what is left of the deadline. Default none.
    pub fn attempt_timeout(mut self, timeout: Duration) -> Self {
        self.attempt_timeout = Some(timeout);
        self
    }

    /// A time budget for the whole call, retries and delays included: it acts as a
    /// deadline (the earlier of it and the ambient one wins). Default none.
    pub fn max_elapsed(mut self, budget: Duration) -> Self {
        self.max_elapsed = Some(budget);
        self
    }

    /// The longest server hint (`retry_after`) this policy waits for; a failure asking for
    /// longer is returned at once, hint included. Default: `max_delay`.
    pub fn max_retry_after(mut self, max: Duration) -> Self {
        self.max_retry_after = Some(max);
        self
    }

    /// Spends retries from `budget`, shared with whoever else holds it. By default every
    /// policy has its own budget with [`RetryBudget`]'s defaults (20% + 10/s over 10 s, as
    /// Finagle), shared by the policy's clones.
    pub fn budget(mut self, budget: RetryBudget) -> Self {
        self.budget = BudgetChoice::Shared(budget);
        self
    }

    /// No budget: only `max_attempts` and time bound the retries.
    pub fn no_budget(mut self) -> Self {
        self.budget = BudgetChoice::None;
        self
    }

    /// Seeds the jitter, for reproducible delays in tests: call `n` of the policy draws
    /// from a generator seeded by `(seed, n)`. Default: a random seed per policy.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// The checks of [`build`](Self::build) and [`RetryPolicy::reconfigure`].
    pub(crate) fn check(&self) -> Result<(), ConfigError> {
        let p = Primitive::Retry;
        check::nonzero(p, "max_attempts", self.max_attempts)?;
        if let Backoff::Exponential { factor, .. } = self.backoff {
            check::at_least_f64(p, "backoff.factor", factor, 1.0)?;
        }
        check::ordered(
            p,
            "backoff.base",
            self.backoff.base(),
            "max_delay",
            self.max_delay,
        )?;
        if let Some(t) = self.attempt_timeout {
            check::nonzero_duration(p, "attempt_timeout", t)?;
        }
        if let Some(t) = self.max_elapsed {
            check::nonzero_duration(p, "max_elapsed", t)?;
        }
        Ok(())
    }

    /// The settings a retry reads, with `budget` as the budget in force.
    fn tuned(&self, budget: Option<RetryBudget>) -> Tuned {
        Tuned {
            max_attempts: self.max_attempts,
            backoff: self.backoff,
            max_delay: self.max_delay,
            jitter: self.jitter,
            max_retry_after: self.max_retry_after.unwrap_or(self.max_delay),
            budget,
        }
    }

    /// Checks the options and builds the policy.
    ///
    /// Errors: `max_attempts` of 0; a backoff factor that is NaN, infinite or below 1; a
    /// backoff base above `max_delay`; a zero `attempt_timeout` or `max_elapsed`.
    pub fn build(self) -> Result<RetryPolicy, ConfigError> {
        self.check()?;
        let own = match self.budget {
            BudgetChoice::Own => Some(RetryBudget::builder().build()?),
            _ => None,
        };
        let budget = match &self.budget {
            BudgetChoice::Own => own.clone(),
            BudgetChoice::Shared(b) => Some(b.clone()),
            BudgetChoice::None => None,
        };
        let seed = self
            .seed
            .unwrap_or_else(|| std::hash::RandomState::new().hash_one(0x5eed_u64));
        let meters = Meters::new(&self.name);
        Ok(RetryPolicy {
            shared: Arc::new(Shared {
                attempt_timeout: AtomicU64::new(pack(self.attempt_timeout)),
                max_elapsed: AtomicU64::new(pack(self.max_elapsed)),
                built_budget: budget.clone(),
                budget_is_built: AtomicBool::new(true),
                tuned: ArcSwap::from_pointee(self.tuned(budget)),
                own_budget: Mutex::new(own),
                generation: AtomicU64::new(0),
                name: self.name,
                seed,
                calls: AtomicU64::new(0),
                meters,
            }),
        })
    }
}

impl RetryPolicy {
    /// Applies `builder`'s options to this policy in place, for every clone and every
    /// layer holding it; see [`RetryPolicy`]'s "Reconfiguring" for what calls under way
    /// see. The name, the jitter's seed and the metric handles stay those the policy was
    /// built with.
    ///
    /// The budget: a shared one ([`budget`](RetryPolicyBuilder::budget)) is used as it is;
    /// the default ("own") keeps the policy's own budget, balance included, creating it
    /// only if the policy never had one; [`no_budget`](RetryPolicyBuilder::no_budget)
    /// drops it.
    ///
    /// ```
    /// use resilience_core::retry::RetryPolicy;
    ///
    /// let policy = RetryPolicy::builder().max_attempts(3).build().unwrap();
    /// let layer_copy = policy.clone();
    /// policy.reconfigure(RetryPolicy::builder().max_attempts(5)).unwrap();
    /// assert_eq!(layer_copy.max_attempts(), 5);
    /// // Invalid options change nothing.
    /// assert!(policy.reconfigure(RetryPolicy::builder().max_attempts(0)).is_err());
    /// assert_eq!(layer_copy.max_attempts(), 5);
    /// ```
    ///
    /// # Errors
    ///
    /// The options are invalid (as for [`build`](RetryPolicyBuilder::build)); the policy
    /// is unchanged then.
    pub fn reconfigure(&self, builder: RetryPolicyBuilder) -> Result<(), ConfigError> {
        builder.check()?;
        let s = &*self.shared;
        let mut own = s.own_budget.lock().unwrap_or_else(PoisonError::into_inner);
        let budget = match &builder.budget {
            BudgetChoice::Own => {
                if own.is_none() {
                    *own = Some(RetryBudget::builder().build()?);
                }
                own.clone()
            }
            BudgetChoice::Shared(b) => Some(b.clone()),
            BudgetChoice::None => None,
        };
        let is_built = match (&budget, &s.built_budget) {
            (Some(a), Some(b)) => a.same_as(b),
            (None, None) => true,
            _ => false,
        };
        // The retry settings first, then what the first attempt reads.
        s.tuned.store(Arc::new(builder.tuned(budget)));
        s.budget_is_built.store(is_built, Relaxed);
        s.attempt_timeout
            .store(pack(builder.attempt_timeout), Relaxed);
        s.max_elapsed.store(pack(builder.max_elapsed), Relaxed);
        s.generation.fetch_add(1, Release);
        Ok(())
    }

    /// How many times this policy was reconfigured.
    pub(crate) fn generation(&self) -> u64 {
        self.shared.generation.load(Acquire)
    }
}
