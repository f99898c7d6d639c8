//! Turning what the run measured into figures: the side-by-side table and the per-second
//! series the chart draws. Nothing here is scripted; every figure is computed from the
//! clients' samples, the upstream's ledger and the primitives' own counters.

use std::fmt::{self, Write as _};
use std::time::Duration;

use super::load::{LoadResult, Outcome, Sample, payment_id};
use super::telemetry::Counters;
use super::upstream::{Ledger, LedgerSnapshot};

/// Share of the pre-outage success rate a gateway must get back to, for two consecutive
/// seconds, to count as recovered.
pub const RECOVERY_SHARE: f64 = 0.9;

/// One second of a run, by attempt start time.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Second {
    /// Attempts started in this second.
    pub attempts: u64,
    /// Of which answered 2xx.
    pub ok: u64,
    /// 99th percentile latency of those attempts.
    pub p99: Duration,
}

impl Second {
    /// Share of attempts answered 2xx (`None` without attempts).
    #[must_use]
    pub fn success_rate(&self) -> Option<f64> {
        (self.attempts > 0).then(|| self.ok as f64 / self.attempts as f64)
    }
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
    /// Attempts answered 2xx.
    pub attempts_ok: u64,
    /// Attempts answered by replaying a stored response.
    pub replayed: u64,
    /// Attempts the client gave up on.
    pub client_timeouts: u64,
    /// Answers lost on the way back to the client.
    pub lost: u64,
    /// Attempts answered 503 `circuit_open`.
    pub circuit_open: u64,
    /// Attempts answered 409 `idempotency_conflict` (same key already in flight).
    pub conflicts: u64,
    /// Median, 99th percentile and maximum attempt latency.
    pub latency: [Duration; 3],
    /// The upstream's ledger.
    pub upstream: LedgerSnapshot,
    /// The primitives' counters (`None` for a gateway without primitives).
    pub counters: Option<Counters>,
    /// Time from the end of the outage to recovery (`None`: not recovered in the run).
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
        outage: (Duration, Duration),
    ) -> Self {
        let samples = &load.samples;
        let upstream = ledger.snapshot();
        let payments_clean = load
            .succeeded
            .iter()
            .filter(|seq| ledger.charges_of(&payment_id(**seq)) == 1)
            .count() as u64;
        let count =
            |f: &dyn Fn(&Outcome) -> bool| samples.iter().filter(|s| f(&s.outcome)).count() as u64;
        let kind_is = |kind: &'static str| move |o: &Outcome| matches!(o, Outcome::Status { kind: Some(k), .. } if k == kind);
        let mut latencies: Vec<Duration> = samples.iter().map(|s| s.latency).collect();
        latencies.sort_unstable();
        Self {
            name,
            payments: load.payments,
            payments_ok: load.payments_ok,
            payments_clean,
            unserved: load.unserved,
            attempts: samples.len() as u64,
            attempts_ok: count(&Outcome::is_ok),
            replayed: count(&|o| matches!(o, Outcome::Ok { replayed: true })),
            client_timeouts: count(&|o| *o == Outcome::Timeout),
            lost: count(&|o| *o == Outcome::Lost),
            circuit_open: count(&kind_is("circuit_open")),
            conflicts: count(&kind_is("idempotency_conflict")),
            latency: [
                percentile(&latencies, 0.50),
                percentile(&latencies, 0.99),
                latencies.last().copied().unwrap_or_default(),
            ],
            upstream,
            counters,
            recovery: recovery(samples, outage),
            seconds: per_second(samples),
        }
    }
}

/// The `q` quantile of sorted values (nearest rank).
fn percentile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn per_second(samples: &[Sample]) -> Vec<Second> {
    let last = samples.iter().map(|s| s.start.as_secs()).max().unwrap_or(0);
    let mut buckets: Vec<Vec<&Sample>> = vec![Vec::new(); last as usize + 1];
    for sample in samples {
        buckets[sample.start.as_secs() as usize].push(sample);
    }
    buckets
        .into_iter()
        .map(|bucket| {
            let mut latencies: Vec<Duration> = bucket.iter().map(|s| s.latency).collect();
            latencies.sort_unstable();
            Second {
                attempts: bucket.len() as u64,
                ok: bucket.iter().filter(|s| s.outcome.is_ok()).count() as u64,
                p99: percentile(&latencies, 0.99),
            }
        })
        .collect()
}

fn success_in(samples: &[Sample], from: Duration, to: Duration) -> Option<f64> {
    let (mut all, mut ok) = (0_u64, 0_u64);
    for sample in samples.iter().filter(|s| s.start >= from && s.start < to) {
        all += 1;
        ok += u64::from(sample.outcome.is_ok());
    }
    (all > 0).then(|| ok as f64 / all as f64)
}

/// How long after the outage's end the success rate (by attempt start, over one-second
/// windows) was back to [`RECOVERY_SHARE`] of its pre-outage level for two seconds in a row.
fn recovery(
    samples: &[Sample],
    (outage_start, outage_end): (Duration, Duration),
) -> Option<Duration> {
    let second = Duration::from_secs(1);
    // The first second warms connection pools up; leave it out of the baseline.
    let baseline = success_in(samples, second.min(outage_start / 2), outage_start)?;
    let target = baseline * RECOVERY_SHARE;
    let end = samples.iter().map(|s| s.start).max()?;
    let step = Duration::from_millis(100);
    let mut offset = Duration::ZERO;
    while outage_end + offset + 2 * second <= end + step {
        let from = outage_end + offset;
        let good =
            |a: Duration, b: Duration| success_in(samples, a, b).is_some_and(|r| r >= target);
        if good(from, from + second) && good(from + second, from + 2 * second) {
            return Some(offset);
        }
        offset += step;
    }
    None
}

/// Both gateways, side by side.
#[derive(Clone, Debug)]
pub struct Report {
    /// The gateway serving the handler as written.
    pub naive: GatewayReport,
    /// The gateway serving it wrapped.
    pub hardened: GatewayReport,
    /// The outage window, from the start of the run.
    pub outage: (Duration, Duration),
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

fn counter(report: &GatewayReport, read: fn(&Counters) -> u64) -> String {
    report
        .counters
        .as_ref()
        .map_or_else(|| "-".into(), |c| read(c).to_string())
}

impl Report {
    /// The table's rows: label, naive, hardened.
    #[must_use]
    pub fn rows(&self) -> Vec<[String; 3]> {
        let row = |label: &str, f: &dyn Fn(&GatewayReport) -> String| {
            [label.to_owned(), f(&self.naive), f(&self.hardened)]
        };
        vec![
            row("payments attempted", &|r| r.payments.to_string()),
            row("payments succeeded", &|r| pct(r.payments_ok, r.payments)),
            row("... and charged exactly once", &|r| {
                pct(r.payments_clean, r.payments)
            }),
            row("payments unserved (all clients busy)", &|r| {
                r.unserved.to_string()
            }),
            row("HTTP requests (incl. client re-submits)", &|r| {
                r.attempts.to_string()
            }),
            row("requests answered 2xx", &|r| pct(r.attempts_ok, r.attempts)),
            row("latency p50", &|r| ms(r.latency[0])),
            row("latency p99", &|r| ms(r.latency[1])),
            row("latency max", &|r| ms(r.latency[2])),
            row("client timeouts", &|r| r.client_timeouts.to_string()),
            row("answers lost on the way back (scripted)", &|r| {
                r.lost.to_string()
            }),
            row("upstream calls (per payment)", &|r| {
                let per = r.upstream.calls as f64 / r.payments.max(1) as f64;
                format!("{} ({per:.2}x)", r.upstream.calls)
            }),
            row("duplicate charges", &|r| {
                r.upstream.duplicate_charges.to_string()
            }),
            row("answers replayed (idempotency)", &|r| {
                r.replayed.to_string()
            }),
            row("requests shed (bulkhead)", &|r| counter(r, |c| c.shed)),
            row("fast 503s, breaker open", &|r| {
                if r.counters.is_some() {
                    r.circuit_open.to_string()
                } else {
                    "-".into()
                }
            }),
            row("breaker transitions", &|r| {
                counter(r, |c| c.breaker_transitions)
            }),
            row("deadline expiries", &|r| {
                counter(r, |c| c.deadline_expiries)
            }),
            row("charges abandoned at deadline", &|r| {
                r.upstream.abandoned.to_string()
            }),
            row("time to recover after outage", &|r| {
                r.recovery.map_or_else(|| "not in run".into(), ms)
            }),
        ]
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rows = vec![[
            String::new(),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(start_ms: u64, ok: bool) -> Sample {
        Sample {
            start: Duration::from_millis(start_ms),
            latency: Duration::from_millis(10),
            outcome: if ok {
                Outcome::Ok { replayed: false }
            } else {
                Outcome::Timeout
            },
            payment: start_ms,
            attempt: 1,
        }
    }

    #[test]
    fn percentile_is_nearest_rank() {
        let sorted: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile(&sorted, 0.5), Duration::from_millis(50));
        assert_eq!(percentile(&sorted, 0.99), Duration::from_millis(99));
        assert_eq!(percentile(&[], 0.99), Duration::ZERO);
    }

    #[test]
    fn recovery_is_the_first_offset_with_two_good_seconds() {
        // Good until 4 s, outage 4..6 s, failures until 6.5 s, good after.
        let samples: Vec<Sample> = (0..100)
            .map(|i| i * 100)
            .map(|t| sample(t, !(4_000..6_500).contains(&t)))
            .collect();
        let got = recovery(&samples, (Duration::from_secs(4), Duration::from_secs(6)));
        // From 6.4 s on, a one-second window holds at most one failure in ten: 90%.
        assert_eq!(got, Some(Duration::from_millis(400)));
    }
}
