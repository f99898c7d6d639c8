//! A tracing event per retry, with attempt number, delay and class. Alone in its test
//! binary: callsite interest is cached process-wide, and tests without a subscriber
//! running in parallel could race it.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use resilience_core::retry::{Backoff, Jitter, RetryPolicy};
use resilience_core::{Error, ErrorKind};
use tracing::field::{Field, Visit};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

const MS: Duration = Duration::from_millis(1);

fn exact(backoff: Backoff, max_attempts: u32) -> resilience_core::retry::RetryPolicyBuilder {
    RetryPolicy::builder()
        .max_attempts(max_attempts)
        .backoff(backoff)
        .jitter(Jitter::None)
        .no_budget()
}

fn boom() -> Error {
    Error::new(ErrorKind::Inner)
}

#[derive(Clone, Default)]
struct Events(Arc<Mutex<Vec<Fields>>>);

/// One event's fields, as `(name, value)` pairs.
type Fields = Vec<(String, String)>;

impl<S: tracing::Subscriber> Layer<S> for Events {
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        struct V(Vec<(String, String)>);
        impl Visit for V {
            fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
                self.0.push((field.name().to_owned(), format!("{value:?}")));
            }
            fn record_str(&mut self, field: &Field, value: &str) {
                self.0.push((field.name().to_owned(), value.to_owned()));
            }
        }
        let mut v = V(Vec::new());
        event.record(&mut v);
        self.0.lock().unwrap().push(v.0);
    }
}

#[tokio::test(start_paused = true)]
async fn each_retry_emits_an_event_with_attempt_delay_and_class() {
    let events = Events::default();
    let subscriber = tracing_subscriber::registry().with(events.clone());
    let _guard = tracing::subscriber::set_default(subscriber);
    let policy = exact(Backoff::constant(250 * MS), 3).build().unwrap();
    let _ = policy.run(|| async { Err::<(), _>(boom()) }).await;
    let events = events.0.lock().unwrap();
    let retries: Vec<_> = events
        .iter()
        .filter(|e| {
            e.iter()
                .any(|(k, v)| k == "message" && v.contains("attempt failed, retrying"))
        })
        .collect();
    assert_eq!(retries.len(), 2, "two retries for three attempts");
    for (i, event) in retries.iter().enumerate() {
        let get = |name: &str| {
            event
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        };
        assert_eq!(get("attempt"), Some((i + 1).to_string()));
        assert_eq!(get("delay_seconds"), Some("0.25".into()));
        assert_eq!(get("class"), Some("transient".into()));
        assert_eq!(get("retry.name"), Some("default".into()));
    }
}
