//! The `resilience.call` spans reach an OpenTelemetry exporter with the primitive, the
//! instance, the attempt, the breaker's state and the time left on the deadline.

use opentelemetry::{Key, Value};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SpanData};
use resilience_examples::otel;

fn attribute<'a>(span: &'a SpanData, key: &'static str) -> Option<&'a Value> {
    // The last value recorded wins, as a backend shows it.
    span.attributes
        .iter()
        .rev()
        .find(|kv| kv.key == Key::from_static_str(key))
        .map(|kv| &kv.value)
}

#[tokio::test(flavor = "current_thread")]
async fn call_spans_carry_primitive_instance_attempt_breaker_state_and_deadline() {
    otel::register().unwrap();
    let exporter = InMemorySpanExporter::default();
    let provider = otel::provider(exporter.clone());
    let answers = {
        let _guard = tracing::subscriber::set_default(otel::subscriber(&provider));
        otel::calls().await
    };
    provider.force_flush().unwrap();
    assert!(answers[0].is_ok(), "{answers:?}");
    assert!(answers[1].is_err() && answers[2].is_err(), "{answers:?}");

    let spans = exporter.get_finished_spans().unwrap();
    let calls: Vec<&SpanData> = spans
        .iter()
        .filter(|s| s.name == "resilience.call")
        .collect();
    assert_eq!(calls.len(), 3, "{spans:#?}");

    for span in &calls {
        assert_eq!(
            attribute(span, "operation"),
            Some(&Value::from("inventory.stock"))
        );
        assert_eq!(
            attribute(span, "primitive"),
            Some(&Value::from("circuit_breaker"))
        );
        assert_eq!(
            attribute(span, "instance"),
            Some(&Value::from(otel::BREAKER))
        );
        match attribute(span, "deadline.remaining_seconds") {
            Some(Value::F64(left)) => assert!(*left > 0.0 && *left <= 2.0, "{left}"),
            other => panic!("deadline.remaining_seconds: {other:?}"),
        }
    }
    // The first call succeeded on its second attempt, the breaker closed.
    assert_eq!(attribute(calls[0], "attempt"), Some(&Value::I64(2)));
    assert_eq!(
        attribute(calls[0], "circuit.state"),
        Some(&Value::from("closed"))
    );
    // The third was refused by the open breaker: its span shows the state it met.
    assert_eq!(
        attribute(calls[2], "circuit.state"),
        Some(&Value::from("open"))
    );
    assert_eq!(attribute(calls[2], "attempt"), Some(&Value::I64(1)));
    let refused = answers[2].as_ref().unwrap_err();
    assert_eq!(refused.kind(), resilience_core::ErrorKind::CircuitOpen);
    provider.shutdown().unwrap();
}
