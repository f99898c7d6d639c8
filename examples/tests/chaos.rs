//! The chaos demo, in-process, on a short seeded version of each scenario: what holds by
//! construction holds — the hardened gateway never charges a payment twice and answers
//! every request within its deadline (plus a margin), the naive one charges some twice —
//! and `--serve`'s `/health` and `/metrics` answer from the hardened gateway's primitives.
//!
//! One test on purpose: the demo measures timing, so it runs alone rather than next to
//! another copy of itself.

use std::time::Duration;

use resilience_examples::chaos::load::Outcome;
use resilience_examples::chaos::upstream::{Event, Window};
use resilience_examples::chaos::{self, Config, Scenario, Served, serve};

const BUDGET: Duration = Duration::from_millis(500);
/// What an answer may take beyond the deadline: the gateway's own work, on two cores
/// shared with whatever else runs, in a debug build.
const LATE: Duration = Duration::from_millis(500);

/// A short run of `scenario`: its event from 1.5 s for 1 s, four seconds of load.
fn short(scenario: Scenario) -> Config {
    let ms = Duration::from_millis;
    let mut config = Config::new(scenario);
    config.script.seed = 11;
    config.script.workers = 2;
    let window = Window {
        start: ms(1_500),
        len: ms(1_000),
    };
    config.script.event = match config.script.event {
        Event::Outage { mode, .. } => Event::Outage { window, mode },
        Event::Overload { factor, .. } => Event::Overload { window, factor },
    };
    config.script.flaky.slow = (ms(200), ms(1_400));
    let load = &mut config.load;
    load.seed = 11;
    load.rate = 40.0;
    load.clients = 256;
    load.duration = ms(4_000);
    load.patience = ms(2_500);
    load.timeout = BUDGET + LATE + ms(500);
    load.max_backoff = ms(300);
    load.lost_rate = 0.05;
    let hardening = &mut config.hardening;
    hardening.budget = BUDGET;
    // Generous: payments counts the deadline from when the request reaches it, so a
    // request that takes longer than the margin to get there (a debug build on two cores
    // shared with other builds) could be charged after the gateway stopped waiting. The
    // margin has to cover that trip for "charged once" to hold by construction.
    hardening.margin = ms(350);
    hardening.open_duration = ms(200);
    hardening.probe_timeout = ms(450);
    config
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hardened_gateway_charges_once_and_answers_within_its_deadline_in_both_scenarios() {
    let mut last = None;
    for scenario in Scenario::ALL {
        let run = chaos::run(&short(scenario)).await.expect("the demo runs");
        let (naive, hardened) = (&run.report.naive, &run.report.hardened);
        println!("{}", run.report);
        let name = scenario.name();

        assert!(
            naive.payments > 100,
            "{name}: the load ran: {} payments",
            naive.payments
        );
        assert_eq!(
            naive.payments, hardened.payments,
            "{name}: both gateways saw the same load"
        );
        assert!(
            naive.upstream.duplicate_charges > 0,
            "{name}: a naive re-submit of a charge whose answer was lost charges again"
        );
        assert_eq!(
            hardened.upstream.duplicate_charges, 0,
            "{name}: the hardened gateway charged a payment twice"
        );
        let samples = &run.hardened_load.samples;
        assert_eq!(samples.len() as u64, hardened.attempts);
        for sample in samples {
            assert_ne!(
                sample.outcome,
                Outcome::Timeout,
                "{name}: a hardened request went unanswered: {sample:?}"
            );
            assert!(
                sample.latency <= BUDGET + LATE,
                "{name}: a hardened request answered after its deadline: {sample:?}"
            );
        }
        let counters = hardened
            .counters
            .expect("the Prometheus recorder is installed");
        if scenario == Scenario::Outage {
            assert!(
                counters.deadline_expiries > 0,
                "calls into the hung upstream ended at the deadline"
            );
        }
        last = Some(run);
    }

    // `--serve`: the same hardened gateway, with /health and /metrics.
    let run = last.expect("a scenario ran");
    let served = Served::start(serve::router(&run.hardened)).await.unwrap();
    let breaker = run
        .hardened
        .registry
        .get_circuit_breaker("payments")
        .unwrap();
    breaker.force_open();
    let (status, health) = get(served.addr, "/health").await;
    assert_eq!(status, 503, "{health}");
    let health: serde_json::Value = serde_json::from_str(&health).unwrap();
    assert_eq!(health["status"], "degraded");
    assert_eq!(health["circuit_breakers"][0]["name"], "payments");
    assert_eq!(health["circuit_breakers"][0]["state"], "forced_open");
    assert_eq!(health["bulkheads"][0]["name"], "charge");
    let (status, metrics) = get(served.addr, "/metrics").await;
    assert_eq!(status, 200);
    assert!(
        metrics.contains("resilience_circuit_transitions_total"),
        "{metrics}"
    );
    assert!(
        metrics.contains("resilience_idempotency_requests_total"),
        "{metrics}"
    );
    // What a Prometheus server would scrape: well-formed, every duration a histogram.
    let families = resilience_test_support::prometheus::parse(&metrics)
        .unwrap_or_else(|e| panic!("{e}\n{metrics}"));
    let durations = resilience_test_support::prometheus::durations_are_histograms(&families)
        .unwrap_or_else(|e| panic!("{e}\n{metrics}"));
    assert!(
        durations.contains(&"resilience_bulkhead_wait_seconds".to_owned()),
        "{durations:?}"
    );
}

async fn get(addr: std::net::SocketAddr, path: &str) -> (u16, String) {
    use http_body_util::{BodyExt, Empty};
    use hyper_util::client::legacy::Client;
    use hyper_util::rt::TokioExecutor;

    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<bytes::Bytes>>();
    let response = client
        .get(format!("http://{addr}{path}").parse().unwrap())
        .await
        .unwrap();
    let status = response.status().as_u16();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}
