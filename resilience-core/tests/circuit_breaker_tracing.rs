//! WARN on open, INFO on half-open and close. Alone in its test binary: tracing caches
//! callsite interest process-wide, and a test without a subscriber running at the same time
//! on another thread could register these callsites as uninteresting and drop the events.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use resilience_core::circuit_breaker::CircuitBreaker;
use tracing::field::{Field, Visit};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

/// (level, message) of every event.
#[derive(Clone, Default)]
struct Events(Arc<Mutex<Vec<(tracing::Level, String)>>>);

struct Message<'a>(&'a mut String);

impl Visit for Message<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            *self.0 = format!("{value:?}");
        }
    }
}

impl<S: tracing::Subscriber> Layer<S> for Events {
    fn on_event(&self, event: &tracing::Event<'_>, _ctx: Context<'_, S>) {
        let mut message = String::new();
        event.record(&mut Message(&mut message));
        self.0
            .lock()
            .unwrap()
            .push((*event.metadata().level(), message));
    }
}

#[test]
fn opening_warns_and_half_open_and_close_inform() {
    let events = Events::default();
    let subscriber = tracing_subscriber::registry().with(events.clone());
    tracing::subscriber::with_default(subscriber, || {
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
    let seen = events.0.lock().unwrap().clone();
    assert_eq!(
        seen,
        [
            (tracing::Level::WARN, "circuit breaker opened".to_owned()),
            (
                tracing::Level::INFO,
                "circuit breaker half-opened".to_owned()
            ),
            (tracing::Level::INFO, "circuit breaker closed".to_owned()),
        ]
    );
}
