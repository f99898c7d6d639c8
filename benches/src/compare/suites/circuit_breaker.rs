//! Circuit breaker, closed, every call succeeds.
//!
//! - `circuit_breaker/core`: the synchronous check and record, `try_acquire` +
//!   `record_success`, against `recloser::Recloser::call` and `failsafe`'s
//!   `CircuitBreaker::call` around a closure returning `Ok`.
//! - `circuit_breaker/layer`: our tower layer against tower-resilience's layer, and
//!   against failsafe's and recloser's future wrappers around the same service call.
//!
//! Same job: a count window of 100 calls and a 50% failure-rate threshold for ours,
//! tower-resilience and recloser. failsafe has no count window: its default policy
//! (consecutive failures, with backoff) is used.

use std::sync::Arc;
use std::time::Duration;

use failsafe::futures::CircuitBreaker as _;
use resilience_core::CircuitBreaker;
use resilience_core::classify::TransientErrors;
use resilience_tower::circuit_breaker::CircuitBreakerLayer;
use tower::Layer;

use super::{Echo, call_once, number};
use crate::compare::{Comparison, Entry};

const WINDOW: u32 = 100;

fn ours() -> CircuitBreaker {
    CircuitBreaker::builder()
        .name("compare")
        .count_window(WINDOW)
        .failure_rate_threshold(0.5)
        .build()
        .expect("a valid breaker")
}

fn recloser() -> recloser::Recloser {
    recloser::Recloser::custom()
        .error_rate(0.5)
        .closed_len(WINDOW as usize)
        .half_open_len(10)
        .open_wait(Duration::from_secs(60))
        .build()
}

fn failsafe()
-> impl failsafe::CircuitBreaker + failsafe::futures::CircuitBreaker + Clone + Send + Sync + 'static
{
    failsafe::Config::new().build()
}

pub(super) fn comparisons() -> Vec<Comparison> {
    let core = Comparison::new("circuit_breaker/core")
        .zero_alloc()
        .ours(Entry::sync("resilience core", {
            let cb = ours();
            move || {
                let cb = cb.clone();
                move || cb.try_acquire().map(|p| p.record_success()).is_ok()
            }
        }))
        .peer(Entry::sync("recloser", {
            let rc = Arc::new(recloser());
            move || {
                let rc = Arc::clone(&rc);
                move || rc.call(|| Ok::<_, ()>(number())).is_ok()
            }
        }))
        .peer(Entry::sync("failsafe", {
            let fs = failsafe();
            move || {
                let fs = fs.clone();
                move || failsafe::CircuitBreaker::call(&fs, || Ok::<_, ()>(number())).is_ok()
            }
        }));

    let tower_resilience = tower_resilience::circuitbreaker::CircuitBreakerLayer::builder()
        .failure_rate_threshold(0.5)
        .sliding_window_size(WINDOW as usize)
        .build()
        .expect("a valid tower-resilience breaker");
    let layer = Comparison::new("circuit_breaker/layer")
        .zero_alloc()
        .ours(Entry::service(
            "resilience layer",
            CircuitBreakerLayer::new(ours())
                .classifier(TransientErrors)
                .layer(Echo),
            number,
        ))
        .peer(Entry::service(
            "tower-resilience",
            tower_resilience.layer(Echo),
            number,
        ))
        .peer(Entry::future_with_input("failsafe futures", number, {
            let fs = failsafe();
            move || {
                let fs = fs.clone();
                let mut svc = Echo;
                async move |req| fs.call(call_once(&mut svc, req)).await.is_ok()
            }
        }))
        .peer(Entry::future_with_input("recloser async", number, {
            let rc = recloser::AsyncRecloser::from(recloser());
            move || {
                let rc = rc.clone();
                let mut svc = Echo;
                async move |req| rc.call(call_once(&mut svc, req)).await.is_ok()
            }
        }));
    vec![core, layer]
}
