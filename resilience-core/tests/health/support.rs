//! A fake dependency whose health the test switches, and whose checks are counted.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use resilience_core::health::{Check, Health, HealthBuilder};

/// A dependency that is up or down, answers a ping after `latency`, and counts pings.
#[derive(Clone)]
pub(crate) struct Dependency {
    up: Arc<AtomicBool>,
    runs: Arc<AtomicUsize>,
    latency: Duration,
}

impl Dependency {
    pub(crate) fn up() -> Self {
        Self::with_latency(Duration::ZERO)
    }

    pub(crate) fn with_latency(latency: Duration) -> Self {
        Self {
            up: Arc::new(AtomicBool::new(true)),
            runs: Arc::new(AtomicUsize::new(0)),
            latency,
        }
    }

    pub(crate) fn set_up(&self, up: bool) {
        self.up.store(up, Ordering::SeqCst);
    }

    /// Pings made so far.
    pub(crate) fn runs(&self) -> usize {
        self.runs.load(Ordering::SeqCst)
    }

    /// A check of this dependency named `name`.
    pub(crate) fn check(&self, name: &'static str) -> Check {
        let dep = self.clone();
        Check::new(name, move || {
            let dep = dep.clone();
            async move {
                dep.runs.fetch_add(1, Ordering::SeqCst);
                if !dep.latency.is_zero() {
                    tokio::time::sleep(dep.latency).await;
                }
                if dep.up.load(Ordering::SeqCst) {
                    Ok(())
                } else {
                    Err("connection refused")
                }
            }
        })
    }
}

/// Defaults for tests: no shutdown delay unless a test sets one.
pub(crate) fn builder() -> HealthBuilder {
    Health::builder().shutdown_delay(Duration::ZERO)
}

/// A started `Health` built by `builder`.
pub(crate) async fn started(builder: HealthBuilder) -> Health {
    let health = builder.build().expect("valid health config");
    health.startup().await.expect("startup passes");
    health
}
