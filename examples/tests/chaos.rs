//! The chaos demo, in-process, on a short script: the hardened gateway never charges a
//! payment twice and succeeds at least as often as the naive one.

use std::time::Duration;

use resilience_examples::chaos::hardening::HardeningConfig;
use resilience_examples::chaos::load::LoadConfig;
use resilience_examples::chaos::upstream::FaultScript;
use resilience_examples::chaos::{self, Config};

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
async fn hardened_gateway_never_charges_twice_and_succeeds_at_least_as_often() {
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
    let rate = |r: &chaos::report::GatewayReport| r.payments_ok as f64 / r.payments as f64;
    assert!(
        rate(hardened) >= rate(naive),
        "hardened {:.3} >= naive {:.3}",
        rate(hardened),
        rate(naive)
    );
}
