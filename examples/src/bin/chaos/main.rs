//! The chaos demo: the same hurried payments gateway served naive and hardened, against a
//! payments upstream of finite capacity having a bad day, side by side.
//!
//! Run: `cargo run --release -p resilience-examples --bin chaos`
//!
//! Runs two scenarios (`--scenario overload|outage|all`, all by default) in about 55 s,
//! prints a table per scenario, writes an SVG chart per scenario and exits. `--serve`
//! then keeps the last hardened gateway up with `/metrics` and `/health`; `--help` lists
//! the knobs. The machinery lives in `resilience_examples::chaos` (`examples/src/chaos/`),
//! so a test can run it too.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use resilience_examples::chaos::upstream::{Event, OutageMode};
use resilience_examples::chaos::{self, Config, Scenario, chart, serve};

/// One hurried payments gateway, served naive and hardened, against an upstream of finite
/// capacity having a bad day.
#[derive(Debug, Parser)]
#[command(version, about, long_about = None)]
struct Args {
    /// Which scenario to run.
    #[arg(long, value_enum, default_value_t = Which::All)]
    scenario: Which,
    /// How long new payments keep arriving, per scenario (default: 20 s for overload,
    /// 22 s for outage).
    #[arg(long, value_parser = humantime::parse_duration)]
    duration: Option<Duration>,
    /// New payments per second, per gateway.
    #[arg(long, default_value_t = 75.0)]
    rate: f64,
    /// Clients per gateway: payments in progress at once, at most.
    #[arg(long, default_value_t = 512)]
    clients: usize,
    /// Attempts per payment (the first one included).
    #[arg(long, default_value_t = 10)]
    attempts: u32,
    /// How long a client keeps trying one payment, waits included.
    #[arg(long, default_value = "6s", value_parser = humantime::parse_duration)]
    patience: Duration,
    /// How long a client waits for an answer.
    #[arg(long, default_value = "2s", value_parser = humantime::parse_duration)]
    client_timeout: Duration,
    /// Share of gateway answers lost on the way back to the client (who sends again).
    #[arg(long, default_value_t = 0.02)]
    lost_rate: f64,

    /// Upstream workers (charges processed at once).
    #[arg(long, default_value_t = 4)]
    workers: usize,
    /// Upstream queue: charges waiting for a worker, at most (more get 503 at once).
    #[arg(long, default_value_t = 1024)]
    queue: usize,
    /// Shortest upstream service time.
    #[arg(long, default_value = "30ms", value_parser = humantime::parse_duration)]
    service_min: Duration,
    /// Longest upstream service time.
    #[arg(long, default_value = "50ms", value_parser = humantime::parse_duration)]
    service_max: Duration,
    /// Overload: how many times its usual service time a charge takes during the trigger.
    #[arg(long, default_value_t = 5.0)]
    trigger_factor: f64,
    /// Overload: how long the trigger lasts.
    #[arg(long, default_value = "3s", value_parser = humantime::parse_duration)]
    trigger_len: Duration,
    /// Outage: how long it lasts.
    #[arg(long, default_value = "6s", value_parser = humantime::parse_duration)]
    outage_len: Duration,
    /// Outage: what it looks like.
    #[arg(long, value_enum, default_value_t = Outage::Hang)]
    outage_mode: Outage,
    /// When the event (trigger or outage) starts.
    #[arg(long, default_value = "6s", value_parser = humantime::parse_duration)]
    event_start: Duration,
    /// Seed of the upstream's draws and of the clients' jitter.
    #[arg(long, default_value_t = 7)]
    seed: u64,

    /// The hardened gateway's time budget per request.
    #[arg(long, default_value = "1s", value_parser = humantime::parse_duration)]
    budget: Duration,
    /// The hardened gateway's cap on requests in its handler.
    #[arg(long, default_value_t = 16)]
    max_in_flight: usize,
    /// How long the hardened gateway's breaker stays open before it probes.
    #[arg(long, default_value = "500ms", value_parser = humantime::parse_duration)]
    open_duration: Duration,
    /// How long a half-open probe may take (the breaker's `probe_timeout`).
    #[arg(long, default_value = "250ms", value_parser = humantime::parse_duration)]
    probe_timeout: Duration,
    /// Keep idempotency records in Redis at this URL (in memory without it).
    #[arg(long, value_name = "URL")]
    redis: Option<String>,

    /// Where to write the SVG charts (`chaos-<scenario>.svg`).
    #[arg(long, default_value = "target")]
    out_dir: PathBuf,
    /// After the run, keep the last hardened gateway up with /metrics and /health.
    #[arg(long)]
    serve: bool,
    /// Address for --serve.
    #[arg(long, default_value = "127.0.0.1:3000")]
    serve_addr: SocketAddr,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
    /// Also print the charts' data: per second, goodput, duplicate charges and p99.
    #[arg(long)]
    per_second: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Which {
    /// A few seconds of slow charges under load near capacity.
    Overload,
    /// Background faults and the upstream hanging for a while.
    Outage,
    /// Both.
    All,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Outage {
    /// Requests are accepted and never answered.
    Hang,
    /// Requests get 503 at once.
    Refuse,
}

impl Args {
    fn scenarios(&self) -> Vec<Scenario> {
        Scenario::ALL
            .into_iter()
            .filter(|s| match self.scenario {
                Which::All => true,
                Which::Overload => *s == Scenario::Overload,
                Which::Outage => *s == Scenario::Outage,
            })
            .collect()
    }

    fn config(&self, scenario: Scenario) -> Config {
        let mut config = Config::new(scenario);
        let script = &mut config.script;
        script.seed = self.seed;
        script.workers = self.workers;
        script.queue = self.queue;
        script.service = (self.service_min, self.service_max.max(self.service_min));
        script.event = match script.event {
            Event::Outage { mut window, .. } => {
                window.start = self.event_start;
                window.len = self.outage_len;
                let mode = match self.outage_mode {
                    Outage::Hang => OutageMode::Hang,
                    Outage::Refuse => OutageMode::Refuse,
                };
                Event::Outage { window, mode }
            }
            Event::Overload { mut window, .. } => {
                window.start = self.event_start;
                window.len = self.trigger_len;
                Event::Overload {
                    window,
                    factor: self.trigger_factor,
                }
            }
        };
        let load = &mut config.load;
        load.rate = self.rate;
        load.clients = self.clients;
        load.duration = self.duration.unwrap_or(load.duration);
        load.attempts = self.attempts.max(1);
        load.patience = self.patience;
        load.timeout = self.client_timeout;
        load.lost_rate = self.lost_rate;
        load.seed = self.seed;
        let hardening = &mut config.hardening;
        hardening.budget = self.budget;
        hardening.max_in_flight = self.max_in_flight;
        hardening.open_duration = self.open_duration;
        hardening.probe_timeout = self.probe_timeout;
        hardening.redis.clone_from(&self.redis);
        config.progress = !self.quiet;
        config
    }
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match demo(Args::parse()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("chaos: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn demo(args: Args) -> Result<(), resilience_core::BoxError> {
    std::fs::create_dir_all(&args.out_dir)?;
    let mut charts = Vec::new();
    let mut last = None;
    for scenario in args.scenarios() {
        let config = args.config(scenario);
        describe(&config);
        let run = chaos::run(&config).await?;
        println!("\n{}", run.report);
        if args.per_second {
            print_per_second(&run.report);
        }
        let path = args.out_dir.join(format!("chaos-{}.svg", scenario.name()));
        chart::write_svg(&run.report, &path)?;
        charts.push(path);
        last = Some(run);
    }
    for path in &charts {
        println!("chart: {}", path.display());
    }

    if let Some(run) = last.filter(|_| args.serve) {
        let listener = tokio::net::TcpListener::bind(args.serve_addr).await?;
        let addr = listener.local_addr()?;
        println!(
            "\nserving the hardened gateway on http://{addr}: POST /charge, GET /metrics, GET /health (Ctrl-C to stop)"
        );
        axum::serve(listener, serve::router(&run.hardened))
            .with_graceful_shutdown(async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await?;
    }
    Ok(())
}

fn describe(config: &Config) {
    let script = &config.script;
    let window = script.event.window();
    let event = match script.event {
        Event::Outage { mode, .. } => format!(
            "{:.0}% 503, {:.0}% slow, {:.0}% hung all along; outage ({mode:?})",
            100.0 * script.flaky.error_rate,
            100.0 * script.flaky.slow_rate,
            100.0 * script.flaky.hang_rate,
        ),
        Event::Overload { factor, .. } => format!("charges {factor}x slower"),
    };
    println!(
        "\n{}: {} payments/s for {:?} at each gateway; upstream: {} workers, ~{:.0} charges/s; \
         {event} from {:?} to {:?}; seed {}",
        config.scenario,
        config.load.rate,
        config.load.duration,
        script.workers,
        script.capacity(),
        window.start,
        window.end(),
        script.seed,
    );
}

fn print_per_second(report: &chaos::report::Report) {
    println!("second | naive goodput dup   p99 | hardened goodput dup   p99");
    let seconds = report
        .naive
        .seconds
        .len()
        .max(report.hardened.seconds.len());
    for i in 0..seconds {
        let cell = |g: &chaos::report::GatewayReport| {
            g.seconds.get(i).map_or_else(String::new, |s| {
                let p99 = s
                    .p99
                    .map_or_else(|| "-".to_owned(), |d| format!("{} ms", d.as_millis()));
                format!("{:>13} {:>3} {p99:>8}", s.goodput, s.duplicates)
            })
        };
        let event = report.timeline.event;
        let phase = if (event.start.as_secs()..event.end().as_secs()).contains(&(i as u64)) {
            format!(" {}", report.timeline.noun)
        } else {
            String::new()
        };
        println!(
            "{i:>6} | {} | {}{phase}",
            cell(&report.naive),
            cell(&report.hardened)
        );
    }
}
