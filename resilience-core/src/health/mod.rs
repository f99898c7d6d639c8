//! Health: liveness, readiness from dependency checks and the primitives' state, startup
//! checks, and graceful shutdown with a drain of in-flight requests.
//!
//! ```
//! use std::sync::Arc;
//! use std::sync::atomic::{AtomicBool, Ordering};
//! use std::time::Duration;
//!
//! use resilience_core::health::{Check, Health, Phase, Status};
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
//! let database_up = Arc::new(AtomicBool::new(true));
//! let up = Arc::clone(&database_up);
//! let health = Health::builder()
//!     .check(
//!         Check::new("postgres", move || {
//!             let up = up.load(Ordering::SeqCst);
//!             async move { if up { Ok(()) } else { Err("connection refused") } }
//!         })
//!         .component_type("datastore"),
//!     )
//!     .interval(Duration::from_secs(5)) // one ping per 5 s, however many probes
//!     .shutdown_delay(Duration::ZERO)
//!     .build()
//!     .unwrap();
//!
//! // Not ready until started (startup checks, if any, have passed).
//! assert_eq!(health.readiness().await.status, Status::Fail);
//! health.startup().await.unwrap();
//! assert_eq!(health.readiness().await.status, Status::Pass);
//!
//! // The database goes down: readiness fails once the cached result has expired.
//! database_up.store(false, Ordering::SeqCst);
//! tokio::time::advance(Duration::from_secs(5)).await;
//! let report = health.readiness().await;
//! assert_eq!(report.status, Status::Fail);
//! assert_eq!(report.check("postgres").unwrap().output.as_deref(), Some("connection refused"));
//!
//! // Liveness only says the process answers: it passes whatever the dependencies do.
//! assert_eq!(health.liveness().status, Status::Pass);
//!
//! // Shutdown: readiness fails first, then new requests are refused while the ones in
//! // flight finish.
//! let in_flight = health.enter().unwrap();
//! health.shutdown_signal(std::future::ready(())).await;
//! assert_eq!(health.phase(), Phase::Draining);
//! assert!(health.enter().is_err());
//! drop(in_flight);
//! health.drain(std::future::ready(())).await.unwrap();
//! # }
//! ```
//!
//! # Why
//!
//! A load balancer or Kubernetes needs two answers. *Liveness*: is the process serving
//! at all (if not, restart it)? *Readiness*: should it get traffic now — is it started,
//! are its dependencies reachable, is it not shutting down? Written by hand, readiness
//! tends to ping the database on every probe (a flood of probes becomes a flood of
//! pings), to hang when the database hangs, to report ready before the service has
//! connected to anything, and to keep answering "ready" while the process is being
//! stopped, so the load balancer sends requests into a closing socket.
//!
//! Here each [`Check`] runs with its own timeout (a hung check *fails* at its timeout),
//! checks run concurrently, and a result is cached for an interval with a single run in
//! flight, so any number of concurrent probes costs one run per check per interval.
//! [`Health::startup`] retries the startup checks with backoff within a deadline;
//! readiness fails until it has succeeded.
//!
//! # Readiness
//!
//! [`Health::readiness`] lists a `lifecycle` check (the [`Phase`]: pass only when
//! `ready`), then each registered check, then the [`Registry`](crate::Registry)'s breakers
//! and bulkheads if one was given (see [`HealthBuilder::registry`]: an open breaker
//! fails its entry but only degrades readiness to `warn` unless declared critical; a
//! saturated bulkhead warns). The overall status is the worst entry, non-critical ones
//! counting at most as `warn`; `pass` and `warn` mean "send traffic" (HTTP 200), `fail`
//! means "do not" (503). While starting, the startup checks' latest results are listed
//! instead of the readiness checks; while shutting down, no check runs.
//!
//! # Shutdown
//!
//! ```text
//! signal ─► Stopping: readiness fails ─(shutdown_delay)─► Draining: new requests refused ─(≤ drain_timeout)─► done
//! ```
//!
//! [`Health::shutdown_signal`] is the future to hand to
//! `axum::serve(..).with_graceful_shutdown(..)` (or tonic's `serve_with_shutdown`); it
//! resolves when draining begins, so the server stops accepting connections.
//! [`Health::drain`] runs that server and bounds its graceful shutdown (which waits for
//! every connection) by the drain timeout. A call to [`Health::shutdown`] from anywhere
//! starts the same sequence as the signal. `resilience_tower::health` shows the whole
//! thing with axum.
//!
//! The HTTP endpoints (`application/health+json`, 200 / 503) and the tower layer that
//! refuses requests while draining and counts the ones in flight
//! ([`Health::enter`]) are in `resilience_tower::health`.
//!
//! # Clone
//!
//! A `Health` is a handle to shared state in an `Arc`: clones are the same checks, caches
//! and lifecycle.

mod check;
mod config;
mod drain;
mod guard;
mod lifecycle;
mod primitives;
#[cfg(feature = "redis")]
mod redis;
mod report;
mod slot;
mod startup;

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

pub use check::{Check, CheckOutcome, IntoCheckOutcome, Status};
pub use config::HealthBuilder;
pub use guard::Guarded;
pub use lifecycle::{InFlight, Phase};
pub use report::{CheckReport, HealthReport};

use lifecycle::Lifecycle;
use primitives::RegistryChecks;
use slot::Slot;

/// Liveness, readiness, startup and shutdown of one service; see the [module docs](self).
#[derive(Clone)]
pub struct Health {
    shared: Arc<Shared>,
}

struct Shared {
    slots: Box<[Arc<Slot>]>,
    startup_slots: Box<[Arc<Slot>]>,
    registry: Option<RegistryChecks>,
    startup: StartupConfig,
    shutdown_delay: Duration,
    drain_timeout: Duration,
    lifecycle: Lifecycle,
    created: Instant,
    /// The latest result of each startup check, shown by readiness while starting.
    startup_reports: Mutex<Vec<CheckReport>>,
    /// Serializes concurrent calls of [`Health::startup`].
    startup_running: tokio::sync::Mutex<()>,
}

struct StartupConfig {
    timeout: Duration,
    /// Retries the failing startup checks: backoff with equal jitter, no budget, within
    /// `timeout`.
    policy: crate::retry::RetryPolicy,
}

impl Health {
    /// A builder with the documented defaults; see [`HealthBuilder`].
    pub fn builder() -> HealthBuilder {
        HealthBuilder::default()
    }

    /// The current phase.
    pub fn phase(&self) -> Phase {
        self.shared.lifecycle.phase()
    }

    /// Liveness: the process is serving. Always `pass`, with the time since this
    /// `Health` was built as `uptime` (in seconds); it does not look at dependencies, so
    /// a database outage never gets every instance restarted.
    pub fn liveness(&self) -> HealthReport {
        let uptime = self.shared.created.elapsed().as_secs_f64();
        let report = CheckReport::new("uptime", Status::Pass)
            .with_component("system")
            .with_observed(uptime, Some("s"));
        HealthReport::new(vec![report])
    }

    /// Readiness: whether to send traffic here now; see the [module docs](self#readiness).
    ///
    /// Stale checks are run concurrently (one run per check, shared with every concurrent
    /// probe), each within its timeout; fresh results are served from the cache. Must be
    /// called within a tokio runtime (runs are spawned tasks, so a probe that gives up
    /// does not cancel them).
    pub async fn readiness(&self) -> HealthReport {
        let shared = &*self.shared;
        let mut checks = Vec::with_capacity(1 + shared.slots.len());
        match self.phase() {
            Phase::Ready => {
                let runs: Vec<_> = shared.slots.iter().map(Slot::lookup).collect();
                for run in runs {
                    checks.push(run.report().await);
                }
                if let Some(registry) = &shared.registry {
                    checks.extend(registry.reports());
                }
            }
            Phase::Starting | Phase::StartupFailed => {
                let reports = shared
                    .startup_reports
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner);
                checks.extend(reports.iter().cloned());
            }
            Phase::Stopping | Phase::Draining => {}
        }
        // Read after the checks: a shutdown that began meanwhile fails this answer.
        let phase = self.phase();
        let status = if phase == Phase::Ready {
            Status::Pass
        } else {
            Status::Fail
        };
        let lifecycle = CheckReport::new("lifecycle", status)
            .with_component("system")
            .with_observed(phase.as_str(), None);
        checks.insert(0, lifecycle);
        HealthReport::new(checks)
    }
}

impl fmt::Debug for Health {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shared = &*self.shared;
        let names = |slots: &[Arc<Slot>]| -> Vec<String> {
            slots.iter().map(|s| s.name().to_string()).collect()
        };
        f.debug_struct("Health")
            .field("phase", &self.phase())
            .field("checks", &names(&shared.slots))
            .field("startup_checks", &names(&shared.startup_slots))
            .field("registry", &shared.registry)
            .field("in_flight", &self.in_flight())
            .finish_non_exhaustive()
    }
}

/// `now + d`, or a date decades away when that overflows (durations from configuration
/// can be absurd; `Instant + Duration` would panic).
fn after(now: Instant, d: Duration) -> Instant {
    now.checked_add(d)
        .unwrap_or_else(|| now + Duration::from_secs(30 * 365 * 86_400))
}
