//! Tracing events and span fields, captured by a subscriber that each test installs for
//! itself ([`capture`], or [`capture_default`] for async tests).
//!
//! Each test gets its own subscriber, so tests in one binary never see each other's
//! events, and none of them runs without a subscriber: tracing caches callsite interest
//! process-wide, and a callsite first hit by a test with no subscriber could otherwise
//! be cached as uninteresting while another test expects its events.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tracing::field::{Field, Visit};
use tracing::subscriber::DefaultGuard;
use tracing::{Level, span};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

/// One event: its level, target and fields (`message` among them), as text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// The level.
    pub level: Level,
    /// The target (`resilience` for the primitives' events).
    pub target: String,
    /// Every field, in the order recorded.
    pub fields: Vec<(String, String)>,
}

impl Event {
    /// The value of field `name`.
    #[must_use]
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The message.
    #[must_use]
    pub fn message(&self) -> Option<&str> {
        self.field("message")
    }
}

#[derive(Default)]
struct Seen {
    events: Vec<Event>,
    /// The last value of each field, by span name and field name.
    spans: HashMap<(String, String), String>,
}

/// What a capturing subscriber saw; clones share it.
#[derive(Clone, Default)]
pub struct Captured(Arc<Mutex<Seen>>);

impl fmt::Debug for Captured {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Captured")
            .field("events", &self.seen().events.len())
            .finish_non_exhaustive()
    }
}

impl Captured {
    fn seen(&self) -> MutexGuard<'_, Seen> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Every event, in order.
    #[must_use]
    pub fn events(&self) -> Vec<Event> {
        self.seen().events.clone()
    }

    /// The value of `field` in the last event at `level` with `target` that has it.
    #[must_use]
    pub fn event_field(&self, level: Level, target: &str, field: &str) -> Option<String> {
        self.seen()
            .events
            .iter()
            .rev()
            .filter(|e| e.level == level && e.target == target)
            .find_map(|e| e.field(field).map(str::to_owned))
    }

    /// The last value recorded for `field` on a span named `span`.
    #[must_use]
    pub fn span_field(&self, span: &str, field: &str) -> Option<String> {
        self.seen()
            .spans
            .get(&(span.to_owned(), field.to_owned()))
            .cloned()
    }
}

struct Fields<'a>(&'a mut Vec<(String, String)>);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0.push((field.name().to_owned(), format!("{value:?}")));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.push((field.name().to_owned(), value.to_owned()));
    }
}

impl Captured {
    fn record_span(&self, name: &str, record: impl FnOnce(&mut dyn Visit)) {
        let mut fields = Vec::new();
        record(&mut Fields(&mut fields));
        let mut seen = self.seen();
        for (field, value) in fields {
            seen.spans.insert((name.to_owned(), field), value);
        }
    }
}

impl<S> Layer<S> for Captured
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &span::Attributes<'_>, _: &span::Id, _: Context<'_, S>) {
        self.record_span(attrs.metadata().name(), |v| attrs.record(v));
    }

    fn on_record(&self, id: &span::Id, values: &span::Record<'_>, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(id) {
            self.record_span(span.name(), |v| values.record(v));
        }
    }

    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        let mut fields = Vec::new();
        event.record(&mut Fields(&mut fields));
        let metadata = event.metadata();
        self.seen().events.push(Event {
            level: *metadata.level(),
            target: metadata.target().to_owned(),
            fields,
        });
    }
}

/// Runs `f` with a fresh capturing subscriber as the thread's default; returns what `f`
/// returned and what was captured.
pub fn capture<T>(f: impl FnOnce() -> T) -> (T, Captured) {
    let captured = Captured::default();
    let subscriber = tracing_subscriber::registry().with(captured.clone());
    let out = tracing::subscriber::with_default(subscriber, f);
    (out, captured)
}

/// A fresh capturing subscriber, the thread's default until the guard is dropped: for a
/// `#[tokio::test]` on the current-thread runtime.
#[must_use]
pub fn capture_default() -> (Captured, DefaultGuard) {
    let captured = Captured::default();
    let subscriber = tracing_subscriber::registry().with(captured.clone());
    (captured, tracing::subscriber::set_default(subscriber))
}
