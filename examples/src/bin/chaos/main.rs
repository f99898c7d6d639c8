//! The chaos demo: the same hurried payments gateway served naive and hardened, against a
//! flaky upstream, side by side.
//!
//! Run: `cargo run --release -p resilience-examples --bin chaos`
//!
//! Takes about 30 s, prints a table of what it measured, writes an SVG chart and exits.
//! `--serve` then keeps the hardened gateway up with `/metrics` and `/health`;
//! `--help` lists the fault script and load knobs. The machinery lives in
//! `resilience_examples::chaos` (`examples/src/chaos/`), so a test can run it too.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use resilience_examples::chaos::hardening::HardeningConfig;
use resilience_examples::chaos::load::LoadConfig;
use resilience_examples::chaos::upstream::{FaultScript, OutageMode};
use resilience_examples::chaos::{self, Config, chart, serve};

/// One hurried payments gateway, served naive and hardened, against a flaky upstream.
#[derive(Debug, Parser)]
#[command(version, about, long_about = None)]
struct Args {
    /// How long new payments keep arriving.
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    duration: Duration,
    /// New payments per second, per gateway.
    #[arg(long, default_value_t = 40.0)]
    rate: f64,
    /// Clients per gateway: payments in progress at once, at most.
    #[arg(long, default_value_t = 256)]
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
    /// Share of upstream answers that are 503 + Retry-After.
    #[arg(long, default_value_t = 0.10)]
    error_rate: f64,
    /// Share of upstream charges that are slow.
    #[arg(long, default_value_t = 0.08)]
    slow_rate: f64,
    /// Shortest slow charge.
    #[arg(long, default_value = "600ms", value_parser = humantime::parse_duration)]
    slow_min: Duration,
    /// Longest slow charge.
    #[arg(long, default_value = "4s", value_parser = humantime::parse_duration)]
    slow_max: Duration,
    /// Share of upstream requests that hang.
    #[arg(long, default_value_t = 0.02)]
    hang_rate: f64,
    /// When the upstream's full outage starts.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    outage_start: Duration,
    /// How long the outage lasts.
    #[arg(long, default_value = "8s", value_parser = humantime::parse_duration)]
    outage_len: Duration,
    /// What the outage looks like.
    #[arg(long, value_enum, default_value_t = Outage::Hang)]
    outage_mode: Outage,
    /// Requests the upstream processes at once (more get 503).
    #[arg(long, default_value_t = 64)]
    upstream_capacity: usize,
    /// Seed of the fault script and of the clients' jitter.
    #[arg(long, default_value_t = 7)]
    seed: u64,

    /// The hardened gateway's time budget per request.
    #[arg(long, default_value = "1s", value_parser = humantime::parse_duration)]
    budget: Duration,
    /// The hardened gateway's cap on calls to payments in flight.
    #[arg(long, default_value_t = 48)]
    max_in_flight: usize,
    /// Keep idempotency records in Redis at this URL (in memory without it).
    #[arg(long, value_name = "URL")]
    redis: Option<String>,

    /// Where to write the SVG chart.
    #[arg(long, default_value = "target/chaos.svg")]
    out: PathBuf,
    /// After the run, keep the hardened gateway up with /metrics and /health.
    #[arg(long)]
    serve: bool,
    /// Address for --serve.
    #[arg(long, default_value = "127.0.0.1:3000")]
    serve_addr: SocketAddr,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
    /// Also print the chart's data: per second, 2xx / requests and p99 for each gateway.
    #[arg(long)]
    per_second: bool,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Outage {
    /// Requests are accepted and never answered.
    Hang,
    /// Requests get 503 at once.
    Refuse,
}

impl Args {
    fn config(&self) -> Config {
        Config {
            script: FaultScript {
                seed: self.seed,
                error_rate: self.error_rate,
                slow_rate: self.slow_rate,
                slow: (self.slow_min, self.slow_max.max(self.slow_min)),
                hang_rate: self.hang_rate,
                outage_start: self.outage_start,
                outage_len: self.outage_len,
                outage_mode: match self.outage_mode {
                    Outage::Hang => OutageMode::Hang,
                    Outage::Refuse => OutageMode::Refuse,
                },
                capacity: self.upstream_capacity,
                ..FaultScript::default()
            },
            load: LoadConfig {
                rate: self.rate,
                clients: self.clients,
                duration: self.duration,
                attempts: self.attempts.max(1),
                patience: self.patience,
                lost_rate: self.lost_rate,
                timeout: self.client_timeout,
                seed: self.seed,
                ..LoadConfig::default()
            },
            hardening: HardeningConfig {
                budget: self.budget,
                max_in_flight: self.max_in_flight,
                redis: self.redis.clone(),
                ..HardeningConfig::default()
            },
            progress: !self.quiet,
        }
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
    let config = args.config();
    println!(
        "chaos: {} payments/s from {} clients for {:?} at each gateway; upstream: {:.0}% 503, \
         {:.0}% slow, {:.0}% hung, full outage ({:?}) from {:?} to {:?}; seed {}",
        config.load.rate,
        config.load.clients,
        config.load.duration,
        100.0 * config.script.error_rate,
        100.0 * config.script.slow_rate,
        100.0 * config.script.hang_rate,
        args.outage_mode,
        config.script.outage_start,
        config.script.outage_end(),
        config.script.seed,
    );
    let run = chaos::run(&config).await?;
    println!("\n{}", run.report);
    if args.per_second {
        print_per_second(&run.report);
    }

    if let Some(dir) = args.out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    chart::write_svg(&run.report, &args.out)?;
    println!("chart: {}", args.out.display());

    if args.serve {
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

fn print_per_second(report: &chaos::report::Report) {
    println!("second | naive 2xx/requests  p99 | hardened 2xx/requests  p99");
    let seconds = report
        .naive
        .seconds
        .len()
        .max(report.hardened.seconds.len());
    for i in 0..seconds {
        let cell = |g: &chaos::report::GatewayReport| {
            g.seconds.get(i).map_or_else(String::new, |s| {
                format!("{:>4}/{:<4} {:>5} ms", s.ok, s.attempts, s.p99.as_millis())
            })
        };
        let phase = if (report.outage.0.as_secs()..report.outage.1.as_secs()).contains(&(i as u64))
        {
            " outage"
        } else {
            ""
        };
        println!(
            "{i:>6} | {} | {}{phase}",
            cell(&report.naive),
            cell(&report.hardened)
        );
    }
}
