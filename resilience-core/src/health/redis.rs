//! [`Check::redis`]: a readiness or startup check that pings a [`RedisStore`].

use tokio::time::Instant;

use super::{Check, CheckOutcome};
use crate::idempotency::RedisStore;
use crate::{Error, Name};

impl Check {
    /// A check (component type `datastore`) that sends `PING` to `store`'s Redis and
    /// reports the round trip in milliseconds (`observedValue`, `observedUnit` `"ms"`).
    /// The ping is bounded by the store's own timeout and by the check's; Redis down or
    /// slow fails the check, never hangs it.
    ///
    /// ```no_run
    /// use resilience_core::health::{Check, Health};
    /// use resilience_core::idempotency::RedisStore;
    ///
    /// # fn main() -> Result<(), resilience_core::ConfigError> {
    /// let store = RedisStore::builder("redis://127.0.0.1:6379/").build()?;
    /// let health = Health::builder()
    ///     .startup_check(Check::redis("redis", store.clone())) // wait for Redis at startup
    ///     .check(Check::redis("redis", store))                 // and fail readiness without it
    ///     .build()?;
    /// # let _ = health; Ok(()) }
    /// ```
    #[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
    pub fn redis(name: impl Into<Name>, store: RedisStore) -> Check {
        Check::new(name, move || {
            let store = store.clone();
            async move {
                let started = Instant::now();
                store.ping().await?;
                let millis = started.elapsed().as_secs_f64() * 1000.0;
                Ok::<_, Error>(CheckOutcome::pass().observed(millis, "ms"))
            }
        })
        .component_type("datastore")
    }
}
