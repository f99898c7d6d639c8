//! Traces through OpenTelemetry: the `resilience.call` spans of `#[resilient]` functions,
//! exported by `tracing-opentelemetry`, with the primitive, its instance, the attempt,
//! the breaker's state and the time left on the deadline as span attributes.
//!
//! The `otel` binary and `examples/tests/otel.rs` share this module: the binary prints
//! what an in-memory exporter received, the test asserts on it. A service exports to a
//! collector instead: build the provider with `opentelemetry-otlp`'s span exporter in
//! place of [`InMemorySpanExporter`]; the subscriber is the same.

use std::sync::atomic::{AtomicU32, Ordering};

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
use resilience_core::{ConfigError, Error, Registry, resilient};
use tracing_subscriber::layer::SubscriberExt;

/// The breaker the example's calls go through, in the global registry.
pub const BREAKER: &str = "otel.inventory";

/// Registers [`BREAKER`]: two consecutive failures open it.
///
/// # Errors
///
/// Never with these settings; a `ConfigError` if they were invalid.
pub fn register() -> Result<(), ConfigError> {
    Registry::global().circuit_breaker(BREAKER, |b| b.consecutive_failures(2))?;
    Ok(())
}

/// A tracer provider sending every finished span to `exporter` at once.
pub fn provider(exporter: InMemorySpanExporter) -> SdkTracerProvider {
    SdkTracerProvider::builder()
        .with_simple_exporter(exporter)
        .build()
}

/// A `tracing` subscriber exporting spans through `provider`.
pub fn subscriber(provider: &SdkTracerProvider) -> impl tracing::Subscriber + Send + Sync {
    let tracer = provider.tracer("resilience-examples");
    tracing_subscriber::registry().with(tracing_opentelemetry::layer().with_tracer(tracer))
}

/// The stock of `sku`; fails while `outage` counts down (one failure per attempt), under
/// a 2 s deadline, three attempts and the [`BREAKER`].
///
/// # Errors
///
/// The last attempt's failure, or a primitive's refusal (an open breaker).
#[resilient(
    name = "inventory.stock",
    deadline = "2s",
    retry(attempts = 3, backoff = "constant", base = "5ms"),
    circuit_breaker = "otel.inventory"
)]
pub async fn stock(sku: &str, outage: &AtomicU32) -> Result<u32, Error> {
    let failing = outage
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    if failing {
        return Err(Error::wrap(std::io::Error::other(format!(
            "inventory: {sku}: connection reset"
        ))));
    }
    Ok(42)
}

/// The calls the example makes: one that succeeds on its second attempt, then two that
/// fail every attempt (the breaker opens during the first of them and refuses the
/// second). Returns what each call answered.
pub async fn calls() -> Vec<Result<u32, Error>> {
    let outage = AtomicU32::new(1);
    let mut answers = vec![stock("sku-1", &outage).await];
    outage.store(u32::MAX, Ordering::SeqCst);
    answers.push(stock("sku-2", &outage).await);
    answers.push(stock("sku-3", &outage).await);
    answers
}
