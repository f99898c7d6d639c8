//! A tracing event per retry, with attempt number, delay and class.

use std::time::Duration;

use resilience_core::retry::{Backoff, Jitter, RetryPolicy};
use resilience_core::{Error, ErrorKind};
use resilience_test_support::events::capture_default;

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

#[tokio::test(start_paused = true)]
async fn each_retry_emits_an_event_with_attempt_delay_and_class() {
    let (captured, _guard) = capture_default();
    let policy = exact(Backoff::constant(250 * MS), 3).build().unwrap();
    let _ = policy.run(|| async { Err::<(), _>(boom()) }).await;
    let events = captured.events();
    let retries: Vec<_> = events
        .iter()
        .filter(|e| {
            e.message()
                .is_some_and(|m| m.contains("attempt failed, retrying"))
        })
        .collect();
    assert_eq!(retries.len(), 2, "two retries for three attempts");
    for (i, event) in retries.iter().enumerate() {
        assert_eq!(event.field("attempt"), Some((i + 1).to_string().as_str()));
        assert_eq!(event.field("delay_seconds"), Some("0.25"));
        assert_eq!(event.field("class"), Some("transient"));
        assert_eq!(event.field("retry.name"), Some("default"));
    }
}
