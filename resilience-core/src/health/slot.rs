//! [`Slot`]: one check's cached result and its single in-flight run.
//!
//! A probe that finds the result fresh gets it at once. One that finds it stale starts a
//! run, unless one is already going, in which case it waits for that run: however many
//! probes arrive, a check runs at most once per interval. The run is a spawned task, so a
//! probe that gives up (its client hung up) neither cancels the run nor makes the next
//! probe start another one.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

use super::{Check, CheckOutcome, CheckReport, Status};
use crate::Name;
use crate::telemetry::{label, metric};

/// A check with its resolved timeout and interval, its last result and its running run.
pub(crate) struct Slot {
    check: Check,
    timeout: Duration,
    interval: Duration,
    meters: Meters,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// The last result and until when it is served.
    cached: Option<(CheckReport, Instant)>,
    /// The run in progress: its result arrives on this channel.
    running: Option<watch::Receiver<Option<CheckReport>>>,
}

/// Where a probe gets a check's result from.
pub(crate) enum Lookup {
    /// The cached result, still fresh.
    Fresh(CheckReport),
    /// A run in progress (started by this probe or an earlier one).
    Running(Arc<Slot>, watch::Receiver<Option<CheckReport>>),
}

impl Slot {
    pub(crate) fn new(check: Check, timeout: Duration, interval: Duration) -> Self {
        Self {
            meters: Meters::new(&check.name),
            timeout: check.timeout.unwrap_or(timeout),
            interval: check.interval.unwrap_or(interval),
            check,
            state: Mutex::default(),
        }
    }

    pub(crate) fn name(&self) -> &Name {
        &self.check.name
    }

    /// The fresh result, or the run to wait for (starting one if none is going).
    pub(crate) fn lookup(self: &Arc<Self>) -> Lookup {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((report, fresh_until)) = &state.cached {
            if Instant::now() < *fresh_until {
                return Lookup::Fresh(report.clone());
            }
        }
        if let Some(running) = &state.running {
            return Lookup::Running(Arc::clone(self), running.clone());
        }
        let (tx, rx) = watch::channel(None);
        state.running = Some(rx.clone());
        drop(state);
        let run = Run {
            slot: Arc::clone(self),
            tx: Some(tx),
        };
        tokio::spawn(run.execute());
        Lookup::Running(Arc::clone(self), rx)
    }

    /// One run, bounded by the timeout.
    async fn run(&self) -> CheckReport {
        let started = Instant::now();
        let outcome = tokio::time::timeout(self.timeout, self.check.start())
            .await
            .unwrap_or_else(|_| {
                CheckOutcome::fail(format!("did not answer within {:?}", self.timeout))
            });
        self.report(outcome, started.elapsed())
    }

    fn report(&self, outcome: CheckOutcome, duration: Duration) -> CheckReport {
        let (status, observed_value, observed_unit, output) = outcome.into_parts();
        let mut report = CheckReport::new(self.check.name.clone(), status);
        report.critical = self.check.critical;
        report.component_type = self.check.component_type.clone();
        report.observed_value = observed_value;
        report.observed_unit = observed_unit;
        report.output = output;
        report.duration = duration;
        report
    }

    /// Stores the result of a finished run and hands it to the probes waiting for it.
    fn finish(&self, report: CheckReport, tx: &watch::Sender<Option<CheckReport>>) {
        self.meters.record(report.status, report.duration);
        let fresh_until = super::after(Instant::now(), self.interval);
        let previous = {
            let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
            state.running = None;
            state
                .cached
                .replace((report.clone(), fresh_until))
                .map(|(old, _)| old.status)
        };
        self.log_change(previous, &report);
        tx.send_replace(Some(report));
    }

    /// A WARN event when a check starts failing, INFO for other changes; nothing while
    /// the status stays the same or for a first pass.
    fn log_change(&self, previous: Option<Status>, report: &CheckReport) {
        let status = report.status;
        if previous == Some(status) || (previous.is_none() && status == Status::Pass) {
            return;
        }
        let from = previous.map_or("none", Status::as_str);
        let output = report.output.as_deref().unwrap_or("");
        if status == Status::Fail {
            tracing::warn!(check = %self.check.name, from, to = status.as_str(), output, "health check failing");
        } else {
            tracing::info!(check = %self.check.name, from, to = status.as_str(), output, "health check status changed");
        }
    }
}

impl Lookup {
    /// The result: at once if fresh, else when the run finishes.
    pub(crate) async fn report(self) -> CheckReport {
        match self {
            Lookup::Fresh(report) => report,
            Lookup::Running(slot, mut rx) => {
                let finished = rx
                    .wait_for(Option::is_some)
                    .await
                    .ok()
                    .and_then(|report| report.clone());
                // `Run` always sends before its sender goes away, even when the check
                // panics; this is for the impossible case.
                finished.unwrap_or_else(|| {
                    slot.report(CheckOutcome::fail("the check run was lost"), Duration::ZERO)
                })
            }
        }
    }
}

/// A spawned run. If the check panics, or the runtime drops the task, `Drop` still
/// records a failure and wakes the waiting probes, so no probe waits forever and the next
/// one starts a new run.
struct Run {
    slot: Arc<Slot>,
    tx: Option<watch::Sender<Option<CheckReport>>>,
}

impl Run {
    async fn execute(mut self) {
        let report = self.slot.run().await;
        if let Some(tx) = self.tx.take() {
            self.slot.finish(report, &tx);
        }
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        if let Some(tx) = self.tx.take() {
            let outcome = CheckOutcome::fail("the check panicked or its task was cancelled");
            self.slot
                .finish(self.slot.report(outcome, Duration::ZERO), &tx);
        }
    }
}

/// A check's metric handles, resolved once.
struct Meters {
    pass: metrics::Counter,
    warn: metrics::Counter,
    fail: metrics::Counter,
    duration: metrics::Histogram,
}

impl Meters {
    fn new(name: &Name) -> Self {
        let counter = |status: Status| {
            metrics::counter!(
                metric::HEALTH_CHECKS_TOTAL,
                label::NAME => name.to_shared_string(),
                label::STATUS => status.as_str(),
            )
        };
        Self {
            pass: counter(Status::Pass),
            warn: counter(Status::Warn),
            fail: counter(Status::Fail),
            duration: metrics::histogram!(
                metric::HEALTH_CHECK_DURATION_SECONDS,
                label::NAME => name.to_shared_string(),
            ),
        }
    }

    fn record(&self, status: Status, duration: Duration) {
        match status {
            Status::Pass => self.pass.increment(1),
            Status::Warn => self.warn.increment(1),
            Status::Fail => self.fail.increment(1),
        }
        self.duration.record(duration.as_secs_f64());
    }
}
