//! The `hedge` kind: [`HedgeSettings`] and the budget a document names, [`HedgeBudget`].

use std::time::Duration;

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serializer};

use super::kinds::{KeyError, Keys, pass_keys, settings};
use super::value::Value;
use crate::hedge::{Hedge, HedgeBuilder};

/// Which retry budget a hedging policy withdraws its hedges from (the `budget` key).
///
/// | in a document | meaning |
/// |---|---|
/// | (absent), `"own"`, `true` | a budget of its own, with the retry budget's defaults |
/// | `"<name>"` | the retry budget `<name>`: in the same document's `retry_budget` table, or already in the registry |
/// | `false`, `"none"` | no budget: only `max_hedges` bounds the hedges |
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum HedgeBudget {
    /// A budget of the policy's own (kept, with its balance, across reloads).
    Own,
    /// No budget.
    Off,
    /// The retry budget of this name, shared with whoever else holds it.
    Named(String),
}

impl HedgeBudget {
    /// The name of the retry budget, if a named one.
    pub(crate) fn name(&self) -> Option<&str> {
        match self {
            Self::Named(name) => Some(name),
            _ => None,
        }
    }
}

impl Value for HedgeBudget {
    fn write<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Own => s.serialize_str("own"),
            Self::Off => s.serialize_bool(false),
            Self::Named(name) => s.serialize_str(name),
        }
    }

    fn read<'de, D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Switch(bool),
            Text(String),
        }
        match Raw::deserialize(d).map_err(|_| {
            D::Error::custom("expected a retry budget's name, \"own\", \"none\" or false")
        })? {
            Raw::Switch(true) => Ok(Self::Own),
            Raw::Switch(false) => Ok(Self::Off),
            Raw::Text(text) => Self::parse(&text).map_err(D::Error::custom),
        }
    }

    fn parse(text: &str) -> Result<Self, String> {
        match text.trim() {
            "" => Err("expected a retry budget's name, \"own\", \"none\" or false".into()),
            "own" | "true" => Ok(Self::Own),
            "none" | "false" => Ok(Self::Off),
            name => Ok(Self::Named(name.to_owned())),
        }
    }
}

settings! {
    /// A [`Hedge`]'s settings (`[hedge.<name>]`); each key is the [`HedgeBuilder`]
    /// option of the same name, but `budget`.
    ///
    /// The delay is `delay` (fixed) or `percentile` (of recent attempts), not both;
    /// `window`, `min_samples` and `min_delay` shape a percentile and are refused beside
    /// a fixed `delay`. `budget` is a [`HedgeBudget`]: `budget = "payments"` withdraws
    /// the hedges from the retry budget `payments` (set `deposit = false` when a retry
    /// policy around the same calls deposits in it already).
    pub struct HedgeSettings {
        /// Hedge after this long.
        delay: Duration,
        /// Hedge after this quantile of recent attempts' latencies, in (0, 1).
        percentile: f64,
        /// The sliding window the percentile is taken over (1s to 1h).
        window: Duration,
        /// Latencies the window must hold before a percentile delay is trusted.
        min_samples: u32,
        /// The shortest percentile delay.
        min_delay: Duration,
        /// Hedges per call at most, besides the first attempt (1 to 10).
        max_hedges: u32,
        /// Whether each call deposits in the budget.
        deposit: bool,
        /// The retry budget hedges withdraw from.
        budget: HedgeBudget,
    }
}

impl HedgeSettings {
    /// The builder these settings describe, with its own budget or none; a named
    /// budget is given to it by the caller, who knows the registry.
    pub(crate) fn builder(&self) -> Result<HedgeBuilder, KeyError> {
        let mut b = Hedge::builder();
        match (self.delay, self.percentile) {
            (Some(_), Some(_)) => {
                return Err((
                    "percentile",
                    "cannot be set beside `delay`: choose one delay".into(),
                ));
            }
            (Some(delay), None) => {
                let shaping = [
                    ("window", self.window.is_some()),
                    ("min_samples", self.min_samples.is_some()),
                    ("min_delay", self.min_delay.is_some()),
                ];
                if let Some((key, _)) = shaping.into_iter().find(|(_, set)| *set) {
                    return Err((
                        key,
                        "shapes a `percentile` delay and has no effect beside a fixed `delay`"
                            .into(),
                    ));
                }
                b = b.delay(delay);
            }
            (None, Some(quantile)) => b = b.percentile(quantile),
            (None, None) => {}
        }
        pass_keys!(self, b, window, min_samples, min_delay, max_hedges, deposit);
        if self.budget == Some(HedgeBudget::Off) {
            b = b.no_budget();
        }
        Ok(b)
    }

    /// The retry budget these settings name, if they name one.
    pub(crate) fn budget_name(&self) -> Option<&str> {
        self.budget.as_ref()?.name()
    }
}
