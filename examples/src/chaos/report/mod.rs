//! Turning what a run measured into figures: the side-by-side table and the per-second
//! series the chart draws. Nothing here is scripted; every figure is computed from the
//! clients' samples, the upstream's ledger and the primitives' own counters.

mod series;

use std::fmt::{self, Write as _};
use std::time::Duration;

pub use self::series::{MIN_FOR_P99, RECOVERY_SHARE, Second};

use self::series::{goodput_in, per_second, percentile, recovery};
use super::load::{LoadResult, Outcome, payment_id};
use super::telemetry::Counters;
use super::upstream::{Ledger, LedgerSnapshot, Window};

/// When things happened in a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeline {
    /// The scenario's event (outage or trigger).
    pub event: Window,
    /// What to call it: "outage" or "trigger".
    pub noun: &'static str,
    /// When payments stopped arriving, from the start of the run.
    pub end: Duration,
}

/// Everything measured for one gateway.
#[derive(Clone, Debug, Default)]
pub struct GatewayReport {
    /// "naive" or "hardened".
    pub name: &'static str,
    /// Payments started by the clients.
    pub payments: u64,
    /// Payments that ended with a 2xx answer.
    pub payments_ok: u64,
    /// Payments that ended with a 2xx answer and were charged exactly once: the ones that
    /// went right.
    pub payments_clean: u64,
    /// Payments that found every client busy.
    pub unserved: u64,
    /// HTTP attempts made by the clients.
    pub attempts: u64,
    /// Attempts answered by replaying a stored response.
    pub replayed: u64,
    /// Attempts the client gave up on.
    pub client_timeouts: u64,
    /// Answers lost on the way back to the client.
    pub lost: u64,
    /// Attempts answered 503 `circuit_open`.
    pub circuit_open: u64,
    /// Median and 99th percentile latency of successful payments, first try to 2xx.
    pub latency: [Duration; 2],
    /// Goodput (payments answered 2xx per second) before, during and after the event.
    pub goodput: [f64; 3],
    /// The upstream's ledger.
    pub upstream: LedgerSnapshot,
    /// The primitives' counters (`None` for a gateway without primitives).
    pub counters: Option<Counters>,
    /// Time from the end of the event to recovery (`None`: not recovered in the run).
    pub recovery: Option<Duration>,
    /// Per-second series.
    pub seconds: Vec<Second>,
}

impl GatewayReport {
    /// Computes the report of one gateway.
    #[must_use]
    pub fn new(
        name: &'static str,
        load: &LoadResult,
        ledger: &Ledger,
        counters: Option<Counters>,
        timeline: Timeline,
    ) -> Self {
        let samples = &load.samples;
        let upstream = ledger.snapshot();
        let paid = &load.succeeded;
        let payments_clean = paid
            .iter()
            .filter(|p| ledger.charges_of(&payment_id(p.payment)) == 1)
            .count() as u64;
        let count =
            |f: &dyn Fn(&Outcome) -> bool| samples.iter().filter(|s| f(&s.outcome)).count() as u64;
        let mut latencies: Vec<Duration> = paid.iter().map(|p| p.latency()).collect();
        latencies.sort_unstable();
        let event = timeline.event;
        let goodput = |from, to| goodput_in(paid, from, to).unwrap_or(0.0);
        let last = samples
            .iter()
            .map(|s| s.start + s.latency)
            .max()
            .unwrap_or_default()
            .max(timeline.end);
        Self {
            name,
            payments: load.payments,
            payments_ok: load.payments_ok,
            payments_clean,
            unserved: load.unserved,
            attempts: samples.len() as u64,
            replayed: count(&|o| matches!(o, Outcome::Ok { replayed: true })),
            client_timeouts: count(&|o| *o == Outcome::Timeout),
            lost: count(&|o| *o == Outcome::Lost),
            circuit_open: count(
                &|o| matches!(o, Outcome::Status { kind: Some(k), .. } if k == "circuit_open"),
            ),
            latency: [percentile(&latencies, 0.50), percentile(&latencies, 0.99)],
            goodput: [
                goodput(Duration::from_secs(1).min(event.start / 2), event.start),
                goodput(event.start, event.end()),
                goodput(event.end(), timeline.end),
            ],
            counters,
            recovery: recovery(paid, event, timeline.end),
            seconds: per_second(paid, &upstream.duplicates, last.as_secs() as usize + 1),
            upstream,
        }
    }
}

/// Both gateways, side by side, in one scenario.
#[derive(Clone, Debug)]
pub struct Report {
    /// The scenario's name.
    pub scenario: &'static str,
    /// The gateway serving the handler as written.
    pub naive: GatewayReport,
    /// The gateway serving it wrapped.
    pub hardened: GatewayReport,
    /// When things happened.
    pub timeline: Timeline,
}

fn ms(d: Duration) -> String {
    if d >= Duration::from_secs(1) {
        format!("{:.2} s", d.as_secs_f64())
    } else {
        format!("{} ms", d.as_millis())
    }
}

fn pct(part: u64, whole: u64) -> String {
    if whole == 0 {
        return "-".into();
    }
    format!("{:.1}%", 100.0 * part as f64 / whole as f64)
}

fn counter(report: &GatewayReport, read: fn(&Counters) -> String) -> String {
    report.counters.as_ref().map_or_else(|| "-".into(), read)
}

impl Report {
    /// The table's rows: label, naive, hardened.
    #[must_use]
    pub fn rows(&self) -> Vec<[String; 3]> {
        let row = |label: String, f: &dyn Fn(&GatewayReport) -> String| {
            [label, f(&self.naive), f(&self.hardened)]
        };
        let noun = self.timeline.noun;
        vec![
            row("payments charged exactly once, answered 2xx".into(), &|r| {
                pct(r.payments_clean, r.payments)
            }),
            row("duplicate charges (money taken twice)".into(), &|r| match r
                .upstream
                .late_duplicates
            {
                0 => r.upstream.duplicate_charges.to_string(),
                late => format!("{} ({late} after the run)", r.upstream.duplicate_charges),
            }),
            row(
                format!("goodput before / during / after the {noun} (payments/s)"),
                &|r| {
                    let [before, during, after] = r.goodput;
                    format!("{before:.0} / {during:.0} / {after:.0}")
                },
            ),
            row(format!("time to recover after the {noun}"), &|r| {
                r.recovery.map_or_else(|| "not in run".into(), ms)
            }),
            row("successful payments' latency p50 / p99".into(), &|r| {
                format!("{} / {}", ms(r.latency[0]), ms(r.latency[1]))
            }),
            row("payments that never got a 2xx".into(), &|r| {
                pct(r.payments - r.payments_ok, r.payments)
            }),
            row(
                "HTTP requests per payment (client re-submits)".into(),
                &|r| format!("{:.2}", r.attempts as f64 / r.payments.max(1) as f64),
            ),
            row("client timeouts".into(), &|r| r.client_timeouts.to_string()),
            row("answers lost on the way back (scripted)".into(), &|r| {
                r.lost.to_string()
            }),
            row("upstream calls per payment".into(), &|r| {
                format!("{:.2}", r.upstream.calls as f64 / r.payments.max(1) as f64)
            }),
            row("upstream work wasted on abandoned requests".into(), &|r| {
                format!(
                    "{:.0}% ({} charged for nobody)",
                    100.0 * r.upstream.wasted_share(),
                    r.upstream.orphaned
                )
            }),
            row(
                "upstream charges skipped or stopped at the deadline".into(),
                &|r| (r.upstream.expired + r.upstream.abandoned).to_string(),
            ),
            row("requests shed (bulkhead)".into(), &|r| {
                counter(r, |c| c.shed.to_string())
            }),
            row("fast 503s, breaker open".into(), &|r| {
                if r.counters.is_some() {
                    r.circuit_open.to_string()
                } else {
                    "-".into()
                }
            }),
            row("breaker transitions".into(), &|r| {
                counter(r, |c| c.breaker_transitions.to_string())
            }),
            row("gateway retries (refused by the budget)".into(), &|r| {
                counter(r, |c| {
                    format!("{} ({})", c.retries, c.retry_budget_exhausted)
                })
            }),
            row("deadline expiries".into(), &|r| {
                counter(r, |c| c.deadline_expiries.to_string())
            }),
            row("answers replayed (idempotency)".into(), &|r| {
                if r.counters.is_some() {
                    r.replayed.to_string()
                } else {
                    "-".into()
                }
            }),
        ]
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rows = vec![[
            self.scenario.to_owned(),
            self.naive.name.to_owned(),
            self.hardened.name.to_owned(),
        ]];
        rows.extend(self.rows());
        let widths: Vec<usize> = (0..3)
            .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
            .collect();
        let mut out = String::new();
        for (i, row) in rows.iter().enumerate() {
            let _ = writeln!(
                out,
                "| {:<w0$} | {:>w1$} | {:>w2$} |",
                row[0],
                row[1],
                row[2],
                w0 = widths[0],
                w1 = widths[1],
                w2 = widths[2],
            );
            if i == 0 {
                let _ = writeln!(
                    out,
                    "|{}|{}:|{}:|",
                    "-".repeat(widths[0] + 2),
                    "-".repeat(widths[1] + 1),
                    "-".repeat(widths[2] + 1),
                );
            }
        }
        f.write_str(&out)
    }
}
