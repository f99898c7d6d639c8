//! [`DeadlinePolicy`]: the time limits of a deadline by name, changeable while in use.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use super::Enforcer;
use crate::config::check;
use crate::durations::{pack, unpack};
use crate::{ConfigError, Name, Primitive};

/// The time limits of one named deadline: the time a call gets when its caller set none
/// (`default_timeout`) and the most a caller may ask for (`max`). `DeadlineLayer` (in
/// `resilience-tower`) and `#[resilient(deadline = "name")]` read them on every call, so
/// [`reconfigure`](Self::reconfigure) (or a reloaded configuration document) changes the
/// limit of the next call; calls under way keep the deadline they started with.
///
/// ```
/// use std::time::Duration;
/// use resilience_core::deadline::DeadlinePolicy;
///
/// let api = DeadlinePolicy::builder()
///     .name("api")
///     .default_timeout(Duration::from_secs(2))
///     .build()
///     .unwrap();
/// assert_eq!(api.default_timeout(), Some(Duration::from_secs(2)));
/// api.reconfigure(DeadlinePolicy::builder().default_timeout(Duration::from_millis(500)))
///     .unwrap();
/// assert_eq!(api.default_timeout(), Some(Duration::from_millis(500)));
/// ```
///
/// # Cost
///
/// Each limit is one atomic word: reading it is a plain load (and a shift and a mask),
/// with no lock and no reference count touched.
///
/// # Clone
///
/// Clones share the limits (an `Arc`).
#[derive(Clone)]
pub struct DeadlinePolicy {
    shared: Arc<Shared>,
}

struct Shared {
    enforcer: Enforcer,
    /// [`pack`](crate::durations::pack)ed; 0 is none.
    default_timeout: AtomicU64,
    /// [`pack`](crate::durations::pack)ed, never 0.
    max: AtomicU64,
}

/// Builds a [`DeadlinePolicy`].
///
/// | option | default | why |
/// |---|---|---|
/// | `name` | `"default"` | metric label and error context |
/// | `default_timeout` | none | as gRPC: no deadline unless the caller sets one |
/// | `max` | 60 s ([`DeadlinePolicy::DEFAULT_MAX`]) | as nginx's `proxy_read_timeout` |
#[derive(Clone, Debug)]
#[must_use]
pub struct DeadlinePolicyBuilder {
    name: Name,
    default_timeout: Option<Duration>,
    max: Duration,
}

impl Default for DeadlinePolicyBuilder {
    fn default() -> Self {
        Self {
            name: Name::from_static("default"),
            default_timeout: None,
            max: DeadlinePolicy::DEFAULT_MAX,
        }
    }
}

impl DeadlinePolicyBuilder {
    /// The instance name, for the metric label and error context. Default `"default"`.
    pub fn name(mut self, name: impl Into<Name>) -> Self {
        self.name = name.into();
        self
    }

    /// The time a call gets when its caller set no deadline. Default none.
    pub fn default_timeout(mut self, timeout: Duration) -> Self {
        self.default_timeout = Some(timeout);
        self
    }

    /// The longest time a caller may ask for; longer asks are cut to this. Default 60 s.
    pub fn max(mut self, max: Duration) -> Self {
        self.max = max;
        self
    }

    /// The checks of [`build`](Self::build).
    pub(crate) fn check(&self) -> Result<(), ConfigError> {
        let p = Primitive::Deadline;
        check::nonzero_duration(p, "max", self.max)?;
        if let Some(default) = self.default_timeout {
            check::nonzero_duration(p, "default_timeout", default)?;
            check::ordered(p, "default_timeout", default, "max", self.max)?;
        }
        Ok(())
    }

    /// Checks the options and builds the policy.
    ///
    /// # Errors
    ///
    /// `max` or `default_timeout` is zero, or `default_timeout` is above `max`.
    pub fn build(self) -> Result<DeadlinePolicy, ConfigError> {
        self.check()?;
        Ok(DeadlinePolicy {
            shared: Arc::new(Shared {
                enforcer: Enforcer::new(self.name),
                default_timeout: AtomicU64::new(pack(self.default_timeout)),
                max: AtomicU64::new(pack(Some(self.max))),
            }),
        })
    }
}

impl DeadlinePolicy {
    /// The cap on a caller's timeout by default: 60 s, as nginx's `proxy_read_timeout`.
    pub const DEFAULT_MAX: Duration = Duration::from_secs(60);

    /// A builder with the defaults above.
    pub fn builder() -> DeadlinePolicyBuilder {
        DeadlinePolicyBuilder::default()
    }

    /// The instance name.
    pub fn name(&self) -> &Name {
        self.shared.enforcer.name()
    }

    /// The enforcer counting this policy's expiries under its name.
    pub fn enforcer(&self) -> &Enforcer {
        &self.shared.enforcer
    }

    /// The time a call gets when its caller set no deadline, if any.
    #[inline]
    pub fn default_timeout(&self) -> Option<Duration> {
        unpack(self.shared.default_timeout.load(Relaxed))
    }

    /// The longest time a caller may ask for.
    #[inline]
    pub fn max(&self) -> Duration {
        unpack(self.shared.max.load(Relaxed)).unwrap_or(Self::DEFAULT_MAX)
    }

    /// Applies `builder`'s limits in place: the next call reads them; calls under way keep
    /// the deadline they started with. The name stays the one the policy was built with.
    ///
    /// The two limits are stored one after the other, so a call starting at that moment
    /// may read one old and one new limit; each is valid on its own, and the layer cuts a
    /// caller's time to `max` whatever the default is.
    ///
    /// # Errors
    ///
    /// The options are invalid (as for [`build`](DeadlinePolicyBuilder::build)); nothing
    /// changes then.
    pub fn reconfigure(&self, builder: DeadlinePolicyBuilder) -> Result<(), ConfigError> {
        builder.check()?;
        let s = &*self.shared;
        s.max.store(pack(Some(builder.max)), Relaxed);
        s.default_timeout
            .store(pack(builder.default_timeout), Relaxed);
        Ok(())
    }

    /// The limits now, for a health endpoint.
    pub fn snapshot(&self) -> DeadlineSnapshot {
        DeadlineSnapshot {
            name: self.name().clone(),
            default_timeout: self.default_timeout(),
            max: self.max(),
        }
    }
}

impl fmt::Debug for DeadlinePolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeadlinePolicy")
            .field("name", self.name())
            .field("default_timeout", &self.default_timeout())
            .field("max", &self.max())
            .finish()
    }
}

/// A [`DeadlinePolicy`]'s limits at one moment, from [`DeadlinePolicy::snapshot`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct DeadlineSnapshot {
    /// The instance name.
    pub name: Name,
    /// The time a call gets when its caller set none, if any (seconds, in JSON).
    #[cfg_attr(
        feature = "serde",
        serde(serialize_with = "crate::ser::option_duration_secs")
    )]
    pub default_timeout: Option<Duration>,
    /// The most a caller may ask for (seconds, in JSON).
    #[cfg_attr(feature = "serde", serde(serialize_with = "crate::ser::duration_secs"))]
    pub max: Duration,
}
