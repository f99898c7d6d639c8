//! WARN on open, INFO on half-open and close.

use std::time::Duration;

use resilience_core::circuit_breaker::CircuitBreaker;
use resilience_test_support::events::capture;
use tracing::Level;

#[test]
fn opening_warns_and_half_open_and_close_inform() {
    let ((), captured) = capture(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap();
        rt.block_on(async {
            let breaker = CircuitBreaker::builder()
                .count_window(1)
                .open_duration(Duration::from_secs(1))
                .half_open_calls(1)
                .build()
                .unwrap();
            breaker.try_acquire().unwrap().record_failure();
            tokio::time::advance(Duration::from_secs(1)).await;
            breaker.try_acquire().unwrap().record_success();
        });
    });
    let seen: Vec<_> = captured
        .events()
        .into_iter()
        .map(|e| (e.level, e.message().unwrap_or_default().to_owned()))
        .collect();
    assert_eq!(
        seen,
        [
            (Level::WARN, "circuit breaker opened".to_owned()),
            (Level::INFO, "circuit breaker half-opened".to_owned()),
            (Level::INFO, "circuit breaker closed".to_owned()),
        ]
    );
}
