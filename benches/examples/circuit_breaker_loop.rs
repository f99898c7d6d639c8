//! A tight loop over one circuit-breaker closed-path call, for instruction counts under
//! `valgrind --tool=callgrind` (wall-clock benches are noisy on a shared machine).
//!
//! ```text
//! cargo build --release -p resilience-benches --example circuit_breaker_loop
//! valgrind --tool=callgrind target/release/examples/circuit_breaker_loop layer 1000000
//! ```
//!
//! Run it with two loop counts and divide the difference in instructions by the difference
//! in calls to get instructions per call without the setup. Modes: `bare` (the service
//! alone), `core`, `layer`, `recloser`, `failsafe`, `tower_resilience`.

use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use failsafe::CircuitBreaker as _;
use resilience_benches::peers::Echo;
use resilience_core::CircuitBreaker;
use resilience_tower::circuit_breaker::CircuitBreakerLayer;
use tower::{Layer, Service};

#[inline(never)]
fn once<S: Service<u64>>(svc: &mut S, req: u64) -> bool {
    let mut cx = Context::from_waker(Waker::noop());
    let ready = matches!(svc.poll_ready(&mut cx), Poll::Ready(Ok(())));
    let fut = pin!(svc.call(req));
    ready && matches!(fut.poll(&mut cx), Poll::Ready(Ok(_)))
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_else(|| "layer".into());
    let n: u64 = args
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let _guard = rt.enter();
    let breaker = || CircuitBreaker::builder().name("bench").build().unwrap();
    let mut ok = 0_u64;
    match mode.as_str() {
        "bare" => {
            let mut svc = Echo;
            for i in 0..n {
                ok += u64::from(once(&mut svc, black_box(i)));
            }
        }
        "core" => {
            let cb = breaker();
            for _ in 0..n {
                ok += u64::from(
                    black_box(&cb)
                        .try_acquire()
                        .map(|p| p.record_success())
                        .is_ok(),
                );
            }
        }
        "layer" => {
            let mut svc = CircuitBreakerLayer::new(breaker())
                .classifier(resilience_core::classify::TransientErrors)
                .layer(Echo);
            for i in 0..n {
                ok += u64::from(once(&mut svc, black_box(i)));
            }
        }
        "recloser" => {
            let rc = recloser::Recloser::custom()
                .error_rate(0.5)
                .closed_len(100)
                .half_open_len(10)
                .open_wait(Duration::from_secs(60))
                .build();
            for _ in 0..n {
                ok += u64::from(rc.call(|| Ok::<_, ()>(black_box(1_u64))).is_ok());
            }
        }
        "failsafe" => {
            let fs = failsafe::Config::new().build();
            for _ in 0..n {
                ok += u64::from(fs.call(|| Ok::<_, ()>(black_box(1_u64))).is_ok());
            }
        }
        "tower_resilience" => {
            let mut svc = tower_resilience::circuitbreaker::CircuitBreakerLayer::builder()
                .failure_rate_threshold(0.5)
                .sliding_window_size(100)
                .build()
                .unwrap()
                .layer(Echo);
            for i in 0..n {
                ok += u64::from(once(&mut svc, black_box(i)));
            }
        }
        other => panic!("unknown mode {other}"),
    }
    assert_eq!(ok, n);
}
