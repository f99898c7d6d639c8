//! Traces through OpenTelemetry: `#[resilient]` calls exported by `tracing-opentelemetry`.
//!
//! Run: `cargo run -p resilience-examples --bin otel`
//!
//! Each call runs in a `resilience.call` span; the exporter receives it with the attributes
//! `primitive` and `instance` (the circuit breaker), `attempt`, `circuit.state` and
//! `deadline.remaining_seconds`, and the error's fields when it failed. This program uses
//! an in-memory exporter and prints what it received; a service would export to a
//! collector with `opentelemetry-otlp` (see `resilience_examples::otel`).

use opentelemetry_sdk::trace::InMemorySpanExporter;
use resilience_core::BoxError;
use resilience_examples::otel;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), BoxError> {
    otel::register()?;
    let exporter = InMemorySpanExporter::default();
    let provider = otel::provider(exporter.clone());
    tracing::subscriber::set_global_default(otel::subscriber(&provider))?;

    for answer in otel::calls().await {
        match answer {
            Ok(stock) => println!("call -> {stock}"),
            Err(err) => println!("call -> {err}"),
        }
    }
    provider.force_flush()?;

    for span in exporter.get_finished_spans()? {
        let mut attributes: Vec<String> = span
            .attributes
            .iter()
            .filter(|kv| {
                !kv.key.as_str().starts_with("code.") && !kv.key.as_str().starts_with("thread.")
            })
            .map(|kv| format!("{}={}", kv.key, kv.value))
            .collect();
        attributes.sort();
        println!("span {} {{{}}}", span.name, attributes.join(", "));
    }
    provider.shutdown()?;
    Ok(())
}
