// `hedge` and `fallback` in every form, alone and with every other option.
#![deny(warnings)]
use std::sync::LazyLock;

use resilience_core::fallback::Fallback;
use resilience_core::hedge::Hedge;
use resilience_core::{Error, resilient};

static HEDGE: LazyLock<Hedge> = LazyLock::new(|| Hedge::builder().build().unwrap());
static ANSWER: LazyLock<Fallback<u32, Error>> =
    LazyLock::new(|| Fallback::builder().value(0).build().unwrap());

fn answer() -> Fallback<u32, Error> {
    ANSWER.clone()
}

#[resilient(hedge)]
async fn defaults(x: u32, name: String) -> Result<u32, Error> {
    Ok(x + name.len() as u32)
}

#[resilient(hedge(percentile = 0.99, max = 2, budget = "shared"), fallback = ANSWER)]
async fn percentile(x: &u32) -> Result<u32, Error> {
    Ok(*x)
}

#[resilient(hedge = HEDGE, fallback = answer)]
async fn by_path(mut v: Vec<u32>) -> Result<u32, Error> {
    v.push(1);
    Ok(v.len() as u32)
}

struct Svc(u32);

impl Svc {
    #[resilient(
        name = "svc.all",
        fallback = ANSWER,
        deadline = "2s",
        retry(attempts = 3, base = "10ms"),
        hedge(delay = "50ms", max = 1),
        circuit_breaker = "svc",
        bulkhead = "svc",
        timeout = "300ms",
    )]
    async fn all(&self, add: u32) -> Result<u32, Error> {
        Ok(self.0 + add)
    }

    #[resilient(hedge = "svc")]
    async fn named(&self) -> Result<u32, Error> {
        Ok(self.0)
    }
}

fn main() {
    let _ = (defaults(1, String::new()), percentile(&1), by_path(Vec::new()));
    let s = Svc(1);
    let _ = (s.all(1), s.named());
}
