//! [`Health::startup`]: retry the startup checks with backoff until they pass or the
//! startup timeout passes.

use std::sync::{Arc, PoisonError};

use tokio::time::Instant;

use super::slot::Slot;
use super::{CheckReport, Health, Phase, Status};
use crate::classify::TransientErrors;
use crate::outcome;
use crate::retry::Next;
use crate::{Deadline, Error, ErrorKind, Primitive};

impl Health {
    /// Runs the startup checks until each has passed once (`pass` or `warn`), then moves
    /// to [`Phase::Ready`]: readiness fails until then.
    ///
    /// Each attempt runs the checks still failing, concurrently, each within its timeout;
    /// between attempts it waits per the startup backoff (equal jitter), and it gives up
    /// when the next attempt would start after the
    /// [startup timeout](super::HealthBuilder::startup_timeout). With no startup checks it
    /// moves to `Ready` at once, so call it when the rest of your initialization is done.
    /// The attempts are a [`RetryPolicy`](crate::retry::RetryPolicy) call (no budget), so
    /// they are counted in `resilience_retry_attempts_total{name="health.startup"}`.
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
        // The retry policy's loop decides: when to try again (backoff, equal jitter), and
        // when the next attempt would start past the startup timeout.
        let mut retry = shared.startup.policy.retry_loop();
        let deadline = retry.deadline().map_or_else(
            || super::after(Instant::now(), shared.startup.timeout),
            Deadline::instant,
        );
        let mut pending: Vec<&Arc<Slot>> = shared.startup_slots.iter().collect();
        loop {
            let attempt = outcome::judge(
                &TransientErrors,
                outcome::lift(self.startup_attempt(&pending, deadline)),
            );
            let attempted = retry.attempt(attempt).await;
            let failed = match retry.next(attempted) {
                Next::Done(Ok(Ok(()))) => break,
                Next::Done(Ok(Err(failed))) => failed,
                // Cut off at the deadline: the checks still running count as failed.
                Next::Done(Err(_)) => self.failed_startup_reports(&pending),
                Next::Retry(delay) => {
                    let failed = self.failed_startup_reports(&pending);
                    pending.retain(|slot| failed.iter().any(|r| r.name == *slot.name()));
                    let names: Vec<&str> = failed.iter().map(|r| r.name.as_str()).collect();
                    tracing::warn!(attempt = retry.attempts(), failed_checks = ?names, retry_in = ?delay, "startup checks failing; retrying");
                    tokio::select! {
                        () = tokio::time::sleep(delay) => {}
                        () = shared.lifecycle.reached(Phase::Stopping) => {
                            return Err(super::lifecycle::shutting_down());
                        }
                    }
                    continue;
                }
            };
            self.shared
                .lifecycle
                .advance(Phase::StartupFailed, |p| p == Phase::Starting);
            let names: Vec<&str> = failed.iter().map(|r| r.name.as_str()).collect();
            tracing::error!(attempt = retry.attempts(), failed_checks = ?names, "startup checks did not pass within the startup timeout");
            return Err(self.startup_failed(&failed));
        }
        let attempt = retry.attempts();
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

    /// One startup attempt: the checks still failing, run concurrently, each until it
    /// answers or `deadline` passes; the failed reports as the error.
    async fn startup_attempt(
        &self,
        pending: &[&Arc<Slot>],
        deadline: Instant,
    ) -> Result<(), Vec<CheckReport>> {
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
            Ok(())
        } else {
            Err(failed)
        }
    }

    /// The latest report of each of `pending` that did not pass: its last failure, or a
    /// failure if it has not answered yet.
    fn failed_startup_reports(&self, pending: &[&Arc<Slot>]) -> Vec<CheckReport> {
        let reports = self
            .shared
            .startup_reports
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        pending
            .iter()
            .filter_map(
                |slot| match reports.iter().find(|r| r.name == *slot.name()) {
                    Some(r) if r.status == Status::Fail => Some(r.clone()),
                    Some(_) => None,
                    None => {
                        let mut report = CheckReport::new(slot.name().clone(), Status::Fail);
                        report.output = Some(String::from("still running at the startup timeout"));
                        Some(report)
                    }
                },
            )
            .collect()
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
