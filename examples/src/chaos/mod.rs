//! The chaos demo: one hurried handler, served naive and hardened, against a payments
//! upstream of finite capacity having a bad day, under the same load, measured side by
//! side.
//!
//! ```no_run
//! # async fn demo() -> Result<(), resilience_core::BoxError> {
//! use resilience_examples::chaos::{self, Config, Scenario};
//!
//! let run = chaos::run(&Config::new(Scenario::Overload)).await?;
//! println!("{}", run.report);
//! # Ok(()) }
//! ```
//!
//! Two [`Scenario`]s: an **outage** (the upstream hangs for a while, on top of background
//! faults) and an **overload** (the upstream's charges take several times as long for a
//! few seconds, under steady load near its capacity). The pieces, one per module:
//! [`upstream`] (the payments service: workers, queue, faults, and its ledger of charges),
//! [`gateway`] (the handler as a hurried service writes it), [`hardening`] (the layers
//! that wrap it, and nothing else), [`load`] (clients that time out and re-submit),
//! [`report`] (the table), [`chart`] (the SVG) and [`serve`] (`--serve`: `/metrics` and
//! `/health`).
//!
//! Both gateways get their own upstream, following the same seeded script on the same
//! clock, and the same load, at the same time; they share nothing else.

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
use self::load::{LoadConfig, LoadResult, Progress};
use self::report::{GatewayReport, Report, Timeline};
use self::telemetry::Counters;
use self::upstream::{Event, Flaky, OutageMode, Script, Upstream, Window};

/// What goes wrong in a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scenario {
    /// Background faults (503s, delays, hangs), and the upstream hangs for six seconds.
    Outage,
    /// No faults; under steady load at three quarters of the upstream's capacity, its
    /// charges take five times as long for three seconds.
    Overload,
}

impl Scenario {
    /// Both, in the order the demo runs them.
    pub const ALL: [Self; 2] = [Self::Overload, Self::Outage];

    /// Its name: "outage" or "overload".
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Outage => "outage",
            Self::Overload => "overload",
        }
    }

    /// How long payments keep arriving.
    #[must_use]
    pub fn duration(self) -> Duration {
        match self {
            Self::Outage => Duration::from_secs(22),
            Self::Overload => Duration::from_secs(20),
        }
    }

    /// The upstream's script: the same workers and queue in both, and the scenario's
    /// faults and event.
    #[must_use]
    pub fn script(self) -> Script {
        let s = Duration::from_secs;
        let (flaky, event) = match self {
            Self::Outage => (
                Flaky::default(),
                Event::Outage {
                    window: Window {
                        start: s(6),
                        len: s(6),
                    },
                    mode: OutageMode::Hang,
                },
            ),
            Self::Overload => (
                Flaky::NONE,
                Event::Overload {
                    window: Window {
                        start: s(6),
                        len: s(3),
                    },
                    factor: 5.0,
                },
            ),
        };
        Script {
            seed: 7,
            workers: 4,
            queue: 1024,
            service: (Duration::from_millis(30), Duration::from_millis(50)),
            retry_after: s(1),
            flaky,
            event,
        }
    }
}

/// Everything a run is made of.
#[derive(Clone, Debug)]
pub struct Config {
    /// The scenario's name, for the table and the chart.
    pub scenario: &'static str,
    /// What the upstreams do.
    pub script: Script,
    /// The clients' load.
    pub load: LoadConfig,
    /// The hardened gateway's settings.
    pub hardening: HardeningConfig,
    /// Whether to draw a progress bar on the terminal.
    pub progress: bool,
}

impl Config {
    /// The default run of `scenario`: the same clients and gateways for every scenario.
    #[must_use]
    pub fn new(scenario: Scenario) -> Self {
        Self {
            scenario: scenario.name(),
            script: scenario.script(),
            load: LoadConfig {
                duration: scenario.duration(),
                ..LoadConfig::default()
            },
            hardening: HardeningConfig::default(),
            progress: false,
        }
    }

    /// When things happen in this run.
    #[must_use]
    pub fn timeline(&self) -> Timeline {
        Timeline {
            event: self.script.event.window(),
            noun: self.script.event.noun(),
            end: self.load.duration,
        }
    }
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
    /// What the clients of the naive gateway saw.
    pub naive_load: LoadResult,
    /// What the clients of the hardened gateway saw.
    pub hardened_load: LoadResult,
    /// The hardened gateway (its primitives and registry), still usable for `--serve`.
    pub hardened: Hardened,
    /// The hardened gateway's upstream, still up.
    pub upstream: Upstream,
}

/// Runs one scenario: starts two upstreams and two gateways, drives the load at both,
/// finishes what the upstreams still had queued, and measures.
///
/// # Errors
///
/// When a listener cannot be bound or the hardened gateway cannot be built (such as an
/// unreachable `--redis`).
pub async fn run(config: &Config) -> Result<Run, BoxError> {
    let before = Counters::read();
    let counters_available = telemetry::prometheus().is_some();

    // A common clock: both upstreams count the event from the same instant.
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

    // The clients are gone; let the gateways notice, then finish what the upstreams
    // still have queued: those charges would be made after the run, and count.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let settle = Duration::from_secs(5);
    naive_upstream.settle(settle).await;
    hardened_upstream.settle(settle).await;

    let counters = counters_available.then(|| Counters::read().since(before));
    let timeline = config.timeline();
    let report = Report {
        scenario: config.scenario,
        naive: GatewayReport::new("naive", &naive_load, &naive_upstream.ledger, None, timeline),
        hardened: GatewayReport::new(
            "hardened",
            &hardened_load,
            &hardened_upstream.ledger,
            counters,
            timeline,
        ),
        timeline,
    };
    drop(hardened_served);
    Ok(Run {
        report,
        naive_load,
        hardened_load,
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
    let (event, noun) = (config.script.event.window(), config.script.event.noun());
    let scenario = config.scenario;
    let ticker = tokio::spawn({
        let bar = bar.clone();
        async move {
            let mut tick = tokio::time::interval(Duration::from_millis(200));
            let mut last = [0_u64; 2];
            loop {
                tick.tick().await;
                let elapsed = Instant::now().saturating_duration_since(start);
                bar.set_position((elapsed.as_millis() as u64).min(total));
                let now = [&naive, &hardened].map(|p| p.ok.load(Ordering::Relaxed));
                // 2xx answers per second over the last tick.
                let rate = |i: usize| (now[i] - last[i]) * 5;
                let phase = if event.contains(elapsed) {
                    noun.to_uppercase()
                } else if elapsed < event.start {
                    "before".to_owned()
                } else {
                    "after".to_owned()
                };
                bar.set_message(format!(
                    "{scenario}: {phase:<8} 2xx/s now: naive {:>4} | hardened {:>4}",
                    rate(0),
                    rate(1)
                ));
                last = now;
            }
        }
    });
    (bar, ticker)
}
