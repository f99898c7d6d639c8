//! [`Health::startup`]: retry the startup checks with backoff until they pass or the
//! startup timeout passes.

use std::hash::BuildHasher;
use std::sync::{Arc, PoisonError};

use tokio::time::Instant;

use super::slot::Slot;
use super::{CheckReport, Health, Phase, Status};
use crate::retry::{FastRng, Jitter};
use crate::{Error, ErrorKind, Primitive};

impl Health {
    /// Runs the startup checks until each has passed once (`pass` or `warn`), then moves
    /// to [`Phase::Ready`]: readiness fails until then.
    ///
    /// Each attempt runs the checks still failing, concurrently, each within its timeout;
    /// between attempts it waits per the startup backoff (equal jitter), and it gives up
    /// when the next attempt would start after the
    /// [startup timeout](super::HealthBuilder::startup_timeout). With no startup checks it
    /// moves to `Ready` at once, so call it when the rest of your initialization is done.
    /// Calling it again after success returns `Ok` at once.
    ///
    /// # Errors
    ///
    /// - [`DeadlineExceeded`](ErrorKind::DeadlineExceeded) when the timeout passed: the
    ///   phase becomes [`Phase::StartupFailed`] (for good; the process should exit), field
    ///   `failed_checks` names the checks that never passed and the source is the first
    ///   one's output;
    /// - [`ShuttingDown`](ErrorKind::ShuttingDown) when shutdown began first.
    pub async fn startup(&self) -> Result<(), Error> {
        let shared = &*self.shared;
        let _one_at_a_time = shared.startup_running.lock().await;
        match self.phase() {
            Phase::Starting => {}
            Phase::Ready => return Ok(()),
            Phase::StartupFailed => {
                let reports = shared
                    .startup_reports
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner);
                let failed: Vec<_> = reports
                    .iter()
                    .filter(|r| r.status == Status::Fail)
                    .cloned()
                    .collect();
                return Err(self.startup_failed(&failed));
            }
            Phase::Stopping | Phase::Draining => return Err(super::lifecycle::shutting_down()),
        }
        let config = &shared.startup;
        let started = Instant::now();
        let deadline = super::after(started, config.timeout);
        let mut rng = FastRng::new(std::hash::RandomState::new().hash_one(started));
        let mut pending: Vec<&Arc<Slot>> = shared.startup_slots.iter().collect();
        let mut previous_delay = config.backoff.base();
        let mut attempt = 0_u32;
        loop {
            attempt = attempt.saturating_add(1);
            let runs: Vec<_> = pending.iter().map(|slot| slot.lookup()).collect();
            let mut failed = Vec::new();
            for (slot, run) in pending.iter().zip(runs) {
                let report = match tokio::time::timeout_at(deadline, run.report()).await {
                    Ok(report) => report,
                    Err(_) => {
                        let mut report = CheckReport::new(slot.name().clone(), Status::Fail);
                        report.output = Some(String::from("still running at the startup timeout"));
                        report
                    }
                };
                if report.status == Status::Fail {
                    failed.push(report.clone());
                }
                self.record_startup_report(report);
            }
            if failed.is_empty() {
                break;
            }
            pending.retain(|slot| failed.iter().any(|r| r.name == *slot.name()));
            let delay = Jitter::Equal.apply(
                &config.backoff,
                attempt,
                config.max_delay,
                previous_delay,
                &mut rng,
            );
            previous_delay = delay;
            let names: Vec<&str> = failed.iter().map(|r| r.name.as_str()).collect();
            if super::after(Instant::now(), delay) >= deadline {
                self.shared
                    .lifecycle
                    .advance(Phase::StartupFailed, |p| p == Phase::Starting);
                tracing::error!(attempt, failed_checks = ?names, "startup checks did not pass within the startup timeout");
                return Err(self.startup_failed(&failed));
            }
            tracing::warn!(attempt, failed_checks = ?names, retry_in = ?delay, "startup checks failing; retrying");
            tokio::select! {
                () = tokio::time::sleep(delay) => {}
                () = shared.lifecycle.reached(Phase::Stopping) => {
                    return Err(super::lifecycle::shutting_down());
                }
            }
        }
        if shared
            .lifecycle
            .advance(Phase::Ready, |p| p == Phase::Starting)
        {
            tracing::info!(attempts = attempt, "startup checks passed; ready");
            Ok(())
        } else {
            // Shutdown began while the last attempt ran.
            Err(super::lifecycle::shutting_down())
        }
    }

    fn record_startup_report(&self, report: CheckReport) {
        let mut reports = self
            .shared
            .startup_reports
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        match reports.iter_mut().find(|r| r.name == report.name) {
            Some(slot) => *slot = report,
            None => reports.push(report),
        }
    }

    fn startup_failed(&self, failed: &[CheckReport]) -> Error {
        let names: Vec<&str> = failed.iter().map(|r| r.name.as_str()).collect();
        let mut err = Error::new(ErrorKind::DeadlineExceeded)
            .with_primitive(Primitive::Health)
            .with_operation("startup")
            .with_detail(format!(
                "startup checks did not pass within {:?}",
                self.shared.startup.timeout
            ));
        if !names.is_empty() {
            err = err.with_field("failed_checks", names.join(", "));
        }
        if let Some(output) = failed.iter().find_map(|r| r.output.clone()) {
            err = err.with_source(output);
        }
        err
    }
}
