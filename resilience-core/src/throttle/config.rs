//! [`AdaptiveThrottleBuilder`]: the validated configuration of an [`AdaptiveThrottle`].

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use arc_swap::ArcSwap;
use tokio::time::Instant;

use super::{AdaptiveThrottle, Shared, Tuned};
use crate::config::{ConfigError, check};
use crate::telemetry::{label, metric};
use crate::{Name, Primitive};

/// The window is kept in this many buckets: it slides by a twentieth of its length.
pub(super) const BUCKETS: u32 = 20;

/// Builds an [`AdaptiveThrottle`]; see [`AdaptiveThrottle::builder`].
///
/// | option | default | anchor |
/// |---|---|---|
/// | [`name`](Self::name) | `"default"` | as the other primitives |
/// | [`multiplier`](Self::multiplier) | 2 | K in the Google SRE book ("Handling Overload") |
/// | [`window`](Self::window) | 2 minutes | the SRE book's history of "the last two minutes" |
///
/// [`build`](Self::build) returns a [`ConfigError`] for a multiplier below 1 or not
/// finite (below 1 the client would refuse requests the backend accepts) and a window
/// shorter than one millisecond or longer than a day.
#[derive(Clone, Debug)]
#[must_use = "a builder does nothing until `build` is called"]
pub struct AdaptiveThrottleBuilder {
    name: Name,
    multiplier: f64,
    window: Duration,
}

impl Default for AdaptiveThrottleBuilder {
    fn default() -> Self {
        Self {
            name: Name::from_static("default"),
            multiplier: 2.0,
            window: Duration::from_secs(120),
        }
    }
}

impl AdaptiveThrottleBuilder {
    /// The instance name: the `name` label of its metrics and the instance in its errors
    /// (`throttle=recommendations`). Keep it from configuration, never from request data.
    pub fn name(mut self, name: impl Into<Name>) -> Self {
        self.name = name.into();
        self
    }

    /// K: how many requests the client sends per request the backend accepts before it
    /// starts refusing locally (at least 1). Lower throttles sooner; higher spends more of
    /// the backend's effort on rejections.
    pub fn multiplier(mut self, k: f64) -> Self {
        self.multiplier = k;
        self
    }

    /// How far back requests and accepts are counted.
    pub fn window(mut self, window: Duration) -> Self {
        self.window = window;
        self
    }

    /// Validates the options and builds the throttle, resolving its metric handles
    /// against the `metrics` recorder installed now.
    pub fn build(self) -> Result<AdaptiveThrottle, ConfigError> {
        let (multiplier, window) = self.check()?;
        let labels = [(label::NAME, self.name.to_shared_string())];
        Ok(AdaptiveThrottle {
            shared: Arc::new(Shared {
                rejected: metrics::counter!(metric::THROTTLE_REJECTED_TOTAL, &labels),
                name: self.name,
                tuned: ArcSwap::from_pointee(Tuned::new(multiplier, window)),
                base: Instant::now(),
                rng: AtomicU64::new(0x7407_7713),
            }),
        })
    }

    /// The checks of [`build`](Self::build): the multiplier and the window.
    pub(crate) fn check(&self) -> Result<(f64, Duration), ConfigError> {
        let p = Primitive::Throttle;
        check::at_least_f64(p, "multiplier", self.multiplier, 1.0)?;
        let day = Duration::from_secs(86_400);
        if !(Duration::from_millis(1)..=day).contains(&self.window) {
            return Err(ConfigError::new(
                p,
                "window",
                format!("must be between 1ms and 1 day, got {:?}", self.window),
            ));
        }
        Ok((self.multiplier, self.window))
    }
}
