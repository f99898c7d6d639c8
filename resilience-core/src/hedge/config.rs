//! [`HedgeBuilder`]: the validated configuration of a [`Hedge`].

use std::sync::{Arc, Mutex};
use std::time::Duration;

use arc_swap::ArcSwap;

use super::latency::Latencies;
use super::{Delay, Hedge, Meters, Shared, Tuned};
use crate::config::check;
use crate::retry::RetryBudget;
use crate::{ConfigError, Name, Primitive};

/// When a hedge is sent: after a fixed delay, or after a percentile of recent attempts'
/// latencies.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub enum HedgeDelay {
    /// After this long.
    Fixed(Duration),
    /// After this quantile (`0.95`: the 95th percentile) of the attempt latencies seen
    /// over the window.
    Percentile(f64),
}

/// Builds a [`Hedge`]; see [`Hedge::builder`] for the defaults.
#[derive(Clone, Debug)]
#[must_use]
pub struct HedgeBuilder {
    name: Name,
    delay: HedgeDelay,
    window: Duration,
    min_samples: u32,
    min_delay: Duration,
    max_hedges: u32,
    budget: BudgetChoice,
    deposit: bool,
}

#[derive(Clone, Debug)]
enum BudgetChoice {
    Own,
    Shared(RetryBudget),
    None,
}

impl Default for HedgeBuilder {
    fn default() -> Self {
        Self {
            name: Name::from_static("default"),
            delay: HedgeDelay::Percentile(0.95),
            window: Duration::from_secs(10),
            min_samples: 100,
            min_delay: Duration::from_millis(1),
            max_hedges: 1,
            budget: BudgetChoice::Own,
            deposit: true,
        }
    }
}

impl HedgeBuilder {
    /// The instance name, for metric labels and error context. Default `"default"`.
    pub fn name(mut self, name: impl Into<Name>) -> Self {
        self.name = name.into();
        self
    }

    /// Hedges after a fixed `delay` (above zero).
    pub fn delay(mut self, delay: Duration) -> Self {
        self.delay = HedgeDelay::Fixed(delay);
        self
    }

    /// Hedges after the `quantile` (in `(0, 1)`; `0.95` is the 95th percentile) of the
    /// attempt latencies seen over the [`window`](Self::window), rounded up to the bucket
    /// that holds it (at most 25% above). The default, at `0.95`.
    pub fn percentile(mut self, quantile: f64) -> Self {
        self.delay = HedgeDelay::Percentile(quantile);
        self
    }

    /// The sliding window a percentile is taken over: from 1 s to 1 hour. Default 10 s.
    pub fn window(mut self, window: Duration) -> Self {
        self.window = window;
        self
    }

    /// Latencies the window must hold before a percentile delay is trusted; until then no
    /// hedge is sent. At least 1. Default 100.
    pub fn min_samples(mut self, min_samples: u32) -> Self {
        self.min_samples = min_samples;
        self
    }

    /// The shortest percentile delay: a hedge never goes out sooner. Default 1 ms.
    pub fn min_delay(mut self, min_delay: Duration) -> Self {
        self.min_delay = min_delay;
        self
    }

    /// Hedges per call at most, besides the first attempt: from 1 to 10. Default 1.
    pub fn max_hedges(mut self, max_hedges: u32) -> Self {
        self.max_hedges = max_hedges;
        self
    }

    /// Withdraws each hedge from `budget`, shared with whoever else holds it (the retry
    /// policy around the hedge, typically), so that retries and hedges together stay
    /// within its share of the traffic. Each call through the hedge also deposits in it,
    /// unless [`deposit(false)`](Self::deposit).
    pub fn budget(mut self, budget: RetryBudget) -> Self {
        self.budget = BudgetChoice::Shared(budget);
        self
    }

    /// Whether each call deposits in the budget. Default `true`. Turn it off when the
    /// budget is also a retry policy's around the same calls: that policy deposits every
    /// call already, and a call should count once.
    pub fn deposit(mut self, deposit: bool) -> Self {
        self.deposit = deposit;
        self
    }

    /// No budget: only `max_hedges` bounds the hedges.
    pub fn no_budget(mut self) -> Self {
        self.budget = BudgetChoice::None;
        self
    }

    /// Checks the options and builds the policy.
    ///
    /// Errors: a zero fixed delay; a quantile that is NaN or not in `(0, 1)`; a window
    /// outside 1 s ..= 1 h; zero `min_samples`; `max_hedges` of 0 or above 10.
    pub fn build(self) -> Result<Hedge, ConfigError> {
        let tuned = self.tuned(None)?;
        let meters = Meters::new(&self.name);
        Ok(Hedge {
            shared: Arc::new(Shared {
                name: self.name,
                tuned: ArcSwap::from_pointee(tuned),
                writer: Mutex::new(()),
                meters,
            }),
        })
    }

    /// The checked options, reusing what `live` (the policy being reconfigured) may
    /// keep: its latency window when the window's length is unchanged, its own budget
    /// when it keeps one.
    pub(crate) fn tuned(&self, live: Option<&Tuned>) -> Result<Tuned, ConfigError> {
        let p = Primitive::Hedge;
        let delay = match self.delay {
            HedgeDelay::Fixed(delay) => Delay::Fixed(check::nonzero_duration(p, "delay", delay)?),
            HedgeDelay::Percentile(quantile) => {
                if !(quantile > 0.0 && quantile < 1.0) {
                    return Err(ConfigError::new(
                        p,
                        "percentile",
                        format!("must be in (0, 1), got {quantile}"),
                    ));
                }
                if !(Duration::from_secs(1)..=Duration::from_secs(3600)).contains(&self.window) {
                    return Err(ConfigError::new(
                        p,
                        "window",
                        format!("must be between 1s and 1h, got {:?}", self.window),
                    ));
                }
                let kept = live.and_then(|live| match &live.delay {
                    Delay::Percentile {
                        window, latencies, ..
                    } if *window == self.window => Some(Arc::clone(latencies)),
                    _ => None,
                });
                let min_samples = check::nonzero(p, "min_samples", self.min_samples)?;
                let latencies = kept.unwrap_or_else(|| Arc::new(Latencies::new(self.window)));
                Delay::Percentile {
                    quantile,
                    min_samples,
                    min_delay: self.min_delay,
                    window: self.window,
                    generation: latencies.next_generation(),
                    latencies,
                }
            }
        };
        check::nonzero(p, "max_hedges", self.max_hedges)?;
        if self.max_hedges > 10 {
            return Err(ConfigError::exceeds(
                p,
                "max_hedges",
                self.max_hedges,
                "its limit",
                10,
            ));
        }
        let budget = match &self.budget {
            BudgetChoice::Own => match live {
                Some(Tuned {
                    budget: Some(budget),
                    own_budget: true,
                    ..
                }) => Some(budget.clone()),
                _ => Some(RetryBudget::builder().build()?),
            },
            BudgetChoice::Shared(budget) => Some(budget.clone()),
            BudgetChoice::None => None,
        };
        Ok(Tuned {
            delay,
            max_hedges: self.max_hedges,
            own_budget: matches!(self.budget, BudgetChoice::Own),
            budget,
            deposit: self.deposit,
        })
    }
}
