//! The chaos demo, in-process, on a short script: the hardened gateway never charges a
//! payment twice and succeeds at least as often as the naive one; `--serve`'s `/health`
//! and `/metrics` answer from its primitives.
//!
//! One test on purpose: the demo measures timing, so it runs alone rather than next to
//! another copy of itself.

use std::time::Duration;

use resilience_examples::chaos::hardening::HardeningConfig;
use resilience_examples::chaos::load::LoadConfig;
use resilience_examples::chaos::upstream::FaultScript;
use resilience_examples::chaos::{self, Config, Served, serve};

fn short_script() -> Config {
    let ms = Duration::from_millis;
    Config {
        script: FaultScript {
            seed: 11,
            slow_rate: 0.10,
            slow: (ms(200), ms(1_400)),
            outage_start: ms(1_500),
            outage_len: ms(800),
            ..FaultScript::default()
        },
        load: LoadConfig {
            rate: 40.0,
            clients: 128,
            duration: ms(4_000),
            attempts: 10,
            patience: ms(2_000),
            timeout: ms(1_000),
            max_backoff: ms(300),
            lost_rate: 0.05,
            seed: 11,
        },
        hardening: HardeningConfig {
            budget: ms(800),
            // Generous: the test shares two cores with whatever else runs, and a request
            // that takes longer than the margin to reach payments could be charged after
            // the gateway stopped waiting for it.
            margin: ms(250),
            open_duration: ms(200),
            ..HardeningConfig::default()
        },
        progress: false,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hardened_gateway_never_charges_twice_succeeds_at_least_as_often_and_reports_health() {
    let run = chaos::run(&short_script()).await.expect("the demo runs");
    let (naive, hardened) = (&run.report.naive, &run.report.hardened);
    println!("{}", run.report);

    assert!(
        naive.payments > 50,
        "the load ran: {} payments",
        naive.payments
    );
    assert_eq!(
        naive.payments, hardened.payments,
        "both gateways saw the same load"
    );
    assert!(
        naive.upstream.duplicate_charges > 0,
        "the script is rough enough to make the naive gateway charge twice"
    );
    assert_eq!(
        hardened.upstream.duplicate_charges, 0,
        "no payment charged twice"
    );
    let counters = hardened
        .counters
        .expect("the Prometheus recorder is installed");
    assert!(
        counters.breaker_transitions >= 2,
        "the outage tripped the breaker and it closed again"
    );
    assert!(
        counters.deadline_expiries > 0,
        "hung calls ended at the deadline"
    );
    // Success is a payment answered 2xx and charged once: a customer charged twice for a
    // payment the naive gateway called a success was not served well.
    let rate = |r: &chaos::report::GatewayReport| r.payments_clean as f64 / r.payments as f64;
    assert!(
        rate(hardened) >= rate(naive),
        "hardened {:.3} >= naive {:.3}",
        rate(hardened),
        rate(naive)
    );

    // `--serve`: the same hardened gateway, with /health and /metrics.
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
