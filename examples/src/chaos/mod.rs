//! The chaos demo: one hurried handler, served naive and hardened, against a flaky payments
//! upstream, under the same load, measured side by side.
//!
//! ```no_run
//! # async fn demo() -> Result<(), resilience_core::BoxError> {
//! use resilience_examples::chaos::{self, Config};
//!
//! let run = chaos::run(&Config::default()).await?;
//! println!("{}", run.report);
//! # Ok(()) }
//! ```
//!
//! The pieces, one per module: [`upstream`] (the flaky payments service and its ledger of
//! charges), [`gateway`] (the handler as a hurried service writes it), [`hardening`] (the
//! layers that wrap it, and nothing else), [`load`] (clients that time out, retry and
//! re-submit), [`report`] (the table), [`chart`] (the SVG) and [`serve`] (`--serve`:
//! `/metrics` and `/health`).
//!
//! Both gateways get their own upstream, following the same seeded fault script on the
//! same clock, and the same load, at the same time; they share nothing else.

pub mod chart;
pub mod gateway;
pub mod hardening;
pub mod load;
pub mod report;
mod rng;
pub mod serve;
pub mod telemetry;
pub mod upstream;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::Router;
use indicatif::{ProgressBar, ProgressStyle};
use resilience_core::BoxError;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use self::hardening::{Hardened, HardeningConfig};
use self::load::{LoadConfig, Progress};
use self::report::{GatewayReport, Report};
use self::telemetry::Counters;
use self::upstream::{FaultScript, Upstream};

/// Everything a run is made of.
#[derive(Clone, Debug, Default)]
pub struct Config {
    /// The upstream's fault script.
    pub script: FaultScript,
    /// The clients' load.
    pub load: LoadConfig,
    /// The hardened gateway's settings.
    pub hardening: HardeningConfig,
    /// Whether to draw a progress bar on the terminal.
    pub progress: bool,
}

/// A gateway serving on 127.0.0.1.
#[derive(Debug)]
pub struct Served {
    /// Where it listens.
    pub addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Served {
    /// Serves `router` on a free port of 127.0.0.1.
    ///
    /// # Errors
    ///
    /// When the listener cannot be bound.
    pub async fn start(router: Router) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Ok(Self { addr, task })
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A finished run.
#[derive(Debug)]
pub struct Run {
    /// The figures.
    pub report: Report,
    /// The hardened gateway (its primitives and registry), still usable for `--serve`.
    pub hardened: Hardened,
    /// The hardened gateway's upstream, still up.
    pub upstream: Upstream,
}

/// Runs the demo: starts two upstreams and two gateways, drives the load at both, waits
/// for the upstreams' last charges to settle, and measures.
///
/// # Errors
///
/// When a listener cannot be bound or the hardened gateway cannot be built (such as an
/// unreachable `--redis`).
pub async fn run(config: &Config) -> Result<Run, BoxError> {
    let before = Counters::read();
    let counters_available = telemetry::prometheus().is_some();

    // A common clock: both upstreams count the outage from the same instant.
    let start = Instant::now() + Duration::from_millis(100);
    let naive_upstream = Upstream::start(config.script.clone(), start).await?;
    let hardened_upstream = Upstream::start(config.script.clone(), start).await?;
    let naive = Served::start(gateway::naive(naive_upstream.addr)).await?;
    let hardened = hardening::harden(hardened_upstream.addr, &config.hardening).await?;
    let hardened_served = Served::start(hardened.router.clone()).await?;

    let progress = [Arc::new(Progress::default()), Arc::new(Progress::default())];
    let bar = config
        .progress
        .then(|| progress_bar(config, start, &progress));
    let (naive_load, hardened_load) = tokio::join!(
        load::drive(
            naive.addr,
            config.load.clone(),
            start,
            Arc::clone(&progress[0])
        ),
        load::drive(
            hardened_served.addr,
            config.load.clone(),
            start,
            Arc::clone(&progress[1])
        ),
    );
    if let Some((bar, ticker)) = bar {
        ticker.abort();
        bar.finish_and_clear();
    }

    // Charges still running upstream may yet take money: let them settle.
    let settle = config.script.slow.1 + Duration::from_millis(200);
    naive_upstream.ledger.settled(settle).await;
    hardened_upstream.ledger.settled(settle).await;

    let counters = counters_available.then(|| Counters::read().since(before));
    let outage = (config.script.outage_start, config.script.outage_end());
    let report = Report {
        naive: GatewayReport::new("naive", &naive_load, &naive_upstream.ledger, None, outage),
        hardened: GatewayReport::new(
            "hardened",
            &hardened_load,
            &hardened_upstream.ledger,
            counters,
            outage,
        ),
        outage,
    };
    drop(hardened_served);
    Ok(Run {
        report,
        hardened,
        upstream: hardened_upstream,
    })
}

fn progress_bar(
    config: &Config,
    start: Instant,
    progress: &[Arc<Progress>; 2],
) -> (ProgressBar, JoinHandle<()>) {
    let total = config.load.duration.as_millis() as u64;
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template("{spinner} {elapsed:>3} [{bar:32}] {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    let (naive, hardened) = (Arc::clone(&progress[0]), Arc::clone(&progress[1]));
    let script = config.script.clone();
    let ticker = tokio::spawn({
        let bar = bar.clone();
        async move {
            let mut tick = tokio::time::interval(Duration::from_millis(200));
            let mut last = [(0_u64, 0_u64); 2];
            loop {
                tick.tick().await;
                let elapsed = Instant::now().saturating_duration_since(start);
                bar.set_position((elapsed.as_millis() as u64).min(total));
                let now = [&naive, &hardened].map(|p| {
                    (
                        p.attempts.load(Ordering::Relaxed),
                        p.ok.load(Ordering::Relaxed),
                    )
                });
                let rate = |i: usize| {
                    let (all, ok) = (now[i].0 - last[i].0, now[i].1 - last[i].1);
                    (100 * ok)
                        .checked_div(all)
                        .map_or_else(|| "  - ".to_owned(), |pct| format!("{pct:>3}%"))
                };
                let phase = if script.in_outage(elapsed) {
                    "OUTAGE"
                } else if elapsed < script.outage_start {
                    "flaky"
                } else {
                    "recovering"
                };
                bar.set_message(format!(
                    "upstream {phase:<10} 2xx now: naive {} | hardened {}",
                    rate(0),
                    rate(1)
                ));
                last = now;
            }
        }
    });
    (bar, ticker)
}
