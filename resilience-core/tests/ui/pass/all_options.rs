// The full option set compiles on free functions, methods, generics and `impl Trait`
// arguments, with no warnings in the generated code.
#![deny(warnings)]
use std::sync::LazyLock;

use resilience_core::bulkhead::Bulkhead;
use resilience_core::circuit_breaker::CircuitBreaker;
use resilience_core::classify::TransientErrors;
use resilience_core::rate_limit::RateLimiter;
use resilience_core::retry::RetryBudget;
use resilience_core::{Error, resilient};

static BREAKER: LazyLock<CircuitBreaker> =
    LazyLock::new(|| CircuitBreaker::builder().name("b").build().unwrap());
static POOL: LazyLock<Bulkhead> = LazyLock::new(|| Bulkhead::builder().name("p").build().unwrap());
static BUDGET: LazyLock<RetryBudget> = LazyLock::new(|| RetryBudget::builder().build().unwrap());
static LIMITER: LazyLock<RateLimiter> =
    LazyLock::new(|| RateLimiter::builder().name("l").rate(10.0).build().unwrap());
const CLASSIFIER: TransientErrors = TransientErrors;

fn breaker() -> &'static CircuitBreaker {
    &BREAKER
}

#[resilient(
    name = "payments.charge",
    deadline = "2s",
    timeout = "300ms",
    retry(attempts = 3, backoff = "exponential", base = "50ms", max = "1s", jitter = "full", budget = "payments"),
    circuit_breaker = "payments",
    rate_limit = "payments",
    bulkhead = "payments",
)]
async fn charge(cents: u64, memo: String, tags: &[&str]) -> Result<u64, Error> {
    Ok(cents + memo.len() as u64 + tags.len() as u64)
}

#[resilient(
    retry(attempts = 2, backoff = "linear", jitter = "decorrelated", budget = BUDGET),
    circuit_breaker = BREAKER,
    rate_limit = LIMITER,
    bulkhead = POOL,
    classify = CLASSIFIER,
    crate = resilience_core,
)]
async fn generic<T: Clone + Send + 'static>(value: T, extra: impl Clone + Send) -> Result<T, Error> {
    let _ = extra;
    Ok(value)
}

struct Client {
    sent: u32,
}

impl Client {
    #[resilient(retry(attempts = 2, backoff = "constant", jitter = "equal"), circuit_breaker = breaker)]
    async fn get(&self, key: &str) -> Result<usize, Error> {
        Ok(key.len() + self.sent as usize)
    }

    #[resilient(retry(attempts = 2, jitter = "none"), timeout = "1s", bulkhead = "client")]
    async fn send(&mut self, mut body: Vec<u8>) -> Result<u32, Error> {
        body.push(0);
        self.sent += 1;
        Ok(self.sent)
    }

    #[resilient(rate_limit = "client")]
    async fn limited(&self) -> Result<(), Error> {
        Ok(())
    }

    #[resilient(retry)]
    async fn defaults(&self) -> Result<(), Error> {
        Ok(())
    }
}

fn assert_send<F: Send>(f: F) -> F {
    f
}

fn main() {
    let _ = assert_send(charge(1, String::new(), &[]));
    let _ = assert_send(generic(1_u8, ()));
    let mut client = Client { sent: 0 };
    let _ = assert_send(client.get("k"));
    let _ = client.defaults();
    let _ = assert_send(client.limited());
    let _ = assert_send(client.send(Vec::new()));
}
