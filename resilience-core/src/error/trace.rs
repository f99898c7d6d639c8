//! Recording an [`Error`]'s context on a `tracing` span as separate fields.

use tracing::Span;
use tracing::field::display;

use super::Error;
use crate::telemetry::field;

impl Error {
    /// Records this error's context on `span` as separate fields, so that a subscriber
    /// gets `error.kind = "circuit_open"` and `error.attempts = 3` rather than one
    /// formatted string.
    ///
    /// `tracing` only records fields that the span declared when it was created; spans
    /// made by [`telemetry::call_span`](crate::telemetry::call_span) declare every field
    /// in [`telemetry::field`](crate::telemetry::field). Fields a span did not declare
    /// are skipped. Free fields ([`with_field`](Error::with_field)) have no fixed name,
    /// so they are recorded together, formatted, under `error.fields`.
    ///
    /// ```
    /// use resilience_core::{Error, ErrorKind, telemetry};
    ///
    /// let span = telemetry::call_span("inventory.reserve");
    /// let err = Error::new(ErrorKind::BulkheadFull).with_attempts(1);
    /// err.record_in(&span);
    /// ```
    pub fn record_in(&self, span: &Span) {
        if span.is_disabled() {
            return;
        }
        let inner = &*self.inner;
        span.record(field::ERROR_KIND, inner.kind.as_str());
        span.record(field::ERROR_REJECTION, inner.rejection);
        span.record(field::ERROR_MESSAGE, display(self));
        if let Some(v) = &inner.operation {
            span.record(field::ERROR_OPERATION, v.as_str());
        }
        if let Some(v) = inner.primitive {
            span.record(field::ERROR_PRIMITIVE, v.as_str());
        }
        if let Some(v) = &inner.instance {
            span.record(field::ERROR_INSTANCE, v.as_str());
        }
        if let Some(v) = inner.attempts {
            span.record(field::ERROR_ATTEMPTS, v);
        }
        if let Some(v) = inner.elapsed {
            span.record(field::ERROR_ELAPSED_SECONDS, v.as_secs_f64());
        }
        if let Some(v) = self.retry_after() {
            span.record(field::ERROR_RETRY_AFTER_SECONDS, v.as_secs_f64());
        }
        if let Some(v) = inner.class {
            span.record(field::ERROR_CLASS, v.as_str());
        }
        if !inner.fields.is_empty() {
            span.record(field::ERROR_FIELDS, display(FieldList(&inner.fields)));
        }
        if let Some(v) = &inner.source {
            span.record(field::ERROR_SOURCE, display(v));
        }
    }

    /// [`record_in`](Error::record_in) the current span.
    pub fn record_in_current_span(&self) {
        self.record_in(&Span::current());
    }

    /// Emits a `tracing` event (target `resilience`) carrying this error's context as
    /// fields: INFO for a rejection (the library doing its job), WARN otherwise.
    ///
    /// Unlike [`record_in`](Error::record_in), this needs nothing declared in advance, so
    /// it is what layers use when the current span is someone else's (an HTTP server's
    /// request span).
    pub fn emit_event(&self) {
        macro_rules! event {
            ($level:expr) => {
                tracing::event!(
                    target: "resilience",
                    $level,
                    error.kind = self.inner.kind.as_str(),
                    error.rejection = self.inner.rejection,
                    error.operation = self.inner.operation.as_deref(),
                    error.primitive = self.inner.primitive.map(|p| p.as_str()),
                    error.instance = self.inner.instance.as_deref(),
                    error.attempts = self.inner.attempts,
                    error.elapsed_seconds = self.inner.elapsed.map(|d| d.as_secs_f64()),
                    error.retry_after_seconds = self.retry_after().map(|d| d.as_secs_f64()),
                    error.class = self.inner.class.map(|c| c.as_str()),
                    error.fields = (!self.inner.fields.is_empty())
                        .then(|| display(FieldList(&self.inner.fields))),
                    error.source = self.inner.source.as_ref().map(display),
                    "{self}",
                )
            };
        }
        if self.inner.rejection {
            event!(tracing::Level::INFO);
        } else {
            event!(tracing::Level::WARN);
        }
    }
}

struct FieldList<'a>(&'a [(&'static str, super::FieldValue)]);

impl std::fmt::Display for FieldList<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, (k, v)) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{k}={v}")?;
        }
        Ok(())
    }
}
