//! Every metric name, label key, label value and span field the primitives emit.
//!
//! ```
//! use resilience_core::telemetry::{self, label, metric, outcome};
//!
//! // Dashboards and alerts refer to the constants, not to string copies.
//! assert_eq!(metric::CALLS_TOTAL, "resilience_calls_total");
//! metrics::counter!(
//!     metric::CALLS_TOTAL,
//!     label::PRIMITIVE => "circuit_breaker",
//!     label::NAME => "payments",
//!     label::OUTCOME => outcome::SUCCESS,
//! )
//! .increment(1);
//!
//! // Register units and help texts once, after installing a recorder (exporter).
//! telemetry::describe();
//! ```
//!
//! # Metrics
//!
//! Names follow the Prometheus conventions: `snake_case`, a `resilience_` prefix, counters
//! end in `_total`, durations are histograms in seconds.
//!
//! | name | type | labels | meaning |
//! |---|---|---|---|
//! | `resilience_calls_total` | counter | `primitive`, `name`, `outcome` | calls through a primitive, by outcome |
//! | `resilience_circuit_state` | gauge | `name` | 0 closed, 1 open, 2 half-open, 3 forced open, 4 disabled |
//! | `resilience_circuit_transitions_total` | counter | `name`, `from`, `to` | breaker state changes |
//! | `resilience_retry_attempts_total` | counter | `name`, `outcome` | attempts made by retry policies |
//! | `resilience_retry_budget_exhausted_total` | counter | `name` | retries refused by an empty budget |
//! | `resilience_bulkhead_in_flight` | gauge | `name` | calls holding a bulkhead permit |
//! | `resilience_bulkhead_rejected_total` | counter | `name` | calls shed by a full bulkhead |
//! | `resilience_bulkhead_wait_seconds` | histogram | `name` | time spent waiting for a permit |
//! | `resilience_deadline_exceeded_total` | counter | `name`, `where` | deadlines that passed, before or during the call |
//! | `resilience_idempotency_requests_total` | counter | `name`, `outcome` | idempotent requests, by outcome |
//! | `resilience_hedges_sent_total` | counter | `name` | hedged attempts sent |
//! | `resilience_hedges_won_total` | counter | `name` | calls answered by a hedged attempt |
//! | `resilience_hedges_refused_total` | counter | `name` | hedges not sent: the budget was empty |
//! | `resilience_fallbacks_total` | counter | `name`, `outcome` | failures a fallback answered (or could not) |
//! | `resilience_coalesce_requests_total` | counter | `name`, `role` | requests through a coalescer, by role |
//! | `resilience_rate_limit_permitted_total` | counter | `name` | calls a rate limiter admitted |
//! | `resilience_rate_limit_limited_total` | counter | `name` | calls a rate limiter refused |
//! | `resilience_rate_limit_wait_seconds` | histogram | `name` | time spent waiting for a rate limiter's turn |
//! | `resilience_rate_limit_store_errors_total` | counter | `name` | rate limit checks whose store (Redis) failed |
//! | `resilience_health_checks_total` | counter | `name`, `status` | health check runs, by result |
//! | `resilience_health_check_duration_seconds` | histogram | `name` | how long health checks took |
//! | `resilience_concurrency_limit` | gauge | `name` | the current limit of an adaptive bulkhead |
//! | `resilience_throttle_rejected_total` | counter | `name` | calls refused locally by an adaptive throttle |
//! | `resilience_faults_injected_total` | counter | `name`, `fault` | faults injected on purpose, by kind |
//! | `resilience_config_reloads_total` | counter | `outcome` | configuration documents applied to a registry, or rejected |
//!
//! [`METRICS`] lists the same facts as data; [`describe`] reads it. Durations are
//! histograms: with `metrics-exporter-prometheus`, build the exporter with
//! `resilience_core::prometheus::builder()` (feature `prometheus`) so that they render as
//! Prometheus histograms with documented buckets, not as summaries.
//!
//! # Labels
//!
//! Label values come only from bounded sets: the constants in [`outcome`],
//! [`circuit_state`], [`deadline_where`], [`coalesce_role`], [`health_status`], [`fault`] and [`Primitive::as_str`](crate::Primitive::as_str),
//! and instance names from configuration. Request data (paths, keys, user ids) never
//! becomes a label, so the number of series stays fixed however much traffic arrives.
//!
//! # Spans
//!
//! [`call_span`] opens the span every protected call runs in, named `resilience.call`,
//! with the fields in [`field`] declared so that
//! [`Error::record_in`](crate::Error::record_in) can fill them. In a `#[resilient]` call
//! the primitives record `attempt`, `deadline.remaining_seconds`, and `primitive`,
//! `instance` and `circuit.state` for its circuit breaker; exported through
//! `tracing-opentelemetry`, they are the span's attributes (the `otel` example).

use tracing::Span;

/// Metric names.
pub mod metric {
    /// Counter: calls through a primitive, labelled `primitive`, `name`, `outcome`.
    pub const CALLS_TOTAL: &str = "resilience_calls_total";
    /// Gauge: circuit breaker state (see [`circuit_state`](super::circuit_state)), labelled `name`.
    pub const CIRCUIT_STATE: &str = "resilience_circuit_state";
    /// Counter: circuit breaker transitions, labelled `name`, `from`, `to`.
    pub const CIRCUIT_TRANSITIONS_TOTAL: &str = "resilience_circuit_transitions_total";
    /// Counter: attempts made by a retry policy, labelled `name`, `outcome`.
    pub const RETRY_ATTEMPTS_TOTAL: &str = "resilience_retry_attempts_total";
    /// Counter: retries refused because the retry budget was empty, labelled `name`.
    pub const RETRY_BUDGET_EXHAUSTED_TOTAL: &str = "resilience_retry_budget_exhausted_total";
    /// Gauge: calls currently holding a bulkhead permit, labelled `name`.
    pub const BULKHEAD_IN_FLIGHT: &str = "resilience_bulkhead_in_flight";
    /// Counter: calls rejected by a full bulkhead, labelled `name`.
    pub const BULKHEAD_REJECTED_TOTAL: &str = "resilience_bulkhead_rejected_total";
    /// Histogram (seconds): time spent waiting for a bulkhead permit, labelled `name`.
    pub const BULKHEAD_WAIT_SECONDS: &str = "resilience_bulkhead_wait_seconds";
    /// Counter: deadlines that passed, labelled `name`, `where`.
    pub const DEADLINE_EXCEEDED_TOTAL: &str = "resilience_deadline_exceeded_total";
    /// Counter: requests seen by an idempotency layer, labelled `name`, `outcome`.
    pub const IDEMPOTENCY_REQUESTS_TOTAL: &str = "resilience_idempotency_requests_total";
    /// Counter: hedged attempts sent, labelled `name`.
    pub const HEDGES_SENT_TOTAL: &str = "resilience_hedges_sent_total";
    /// Counter: calls whose answer came from a hedged attempt, labelled `name`.
    pub const HEDGES_WON_TOTAL: &str = "resilience_hedges_won_total";
    /// Counter: hedges not sent because the budget was empty, labelled `name`.
    pub const HEDGES_REFUSED_TOTAL: &str = "resilience_hedges_refused_total";
    /// Counter: failures a fallback answered, labelled `name`, `outcome` (what answered:
    /// [`VALUE`](super::outcome::VALUE), [`COMPUTED`](super::outcome::COMPUTED),
    /// [`STALE`](super::outcome::STALE), or [`UNAVAILABLE`](super::outcome::UNAVAILABLE)).
    pub const FALLBACKS_TOTAL: &str = "resilience_fallbacks_total";
    /// Counter: requests through a coalescer, labelled `name`, `role` (see
    /// [`coalesce_role`](super::coalesce_role)).
    pub const COALESCE_REQUESTS_TOTAL: &str = "resilience_coalesce_requests_total";
    /// Counter: calls a rate limiter admitted, labelled `name`.
    pub const RATE_LIMIT_PERMITTED_TOTAL: &str = "resilience_rate_limit_permitted_total";
    /// Counter: calls a rate limiter refused (limit reached, or no turn before the
    /// deadline), labelled `name`.
    pub const RATE_LIMIT_LIMITED_TOTAL: &str = "resilience_rate_limit_limited_total";
    /// Histogram (seconds): time callers waited for their turn, labelled `name`.
    pub const RATE_LIMIT_WAIT_SECONDS: &str = "resilience_rate_limit_wait_seconds";
    /// Counter: rate limit checks whose store (Redis) failed or timed out, labelled `name`.
    pub const RATE_LIMIT_STORE_ERRORS_TOTAL: &str = "resilience_rate_limit_store_errors_total";
    /// Counter: health check runs, labelled `name` (the check's), `status`
    /// (see [`health_status`](super::health_status)).
    pub const HEALTH_CHECKS_TOTAL: &str = "resilience_health_checks_total";
    /// Histogram (seconds): how long a health check run took (a hung check counts its
    /// timeout), labelled `name`.
    pub const HEALTH_CHECK_DURATION_SECONDS: &str = "resilience_health_check_duration_seconds";
    /// Gauge: the current limit of an adaptive bulkhead, labelled `name`.
    pub const CONCURRENCY_LIMIT: &str = "resilience_concurrency_limit";
    /// Counter: calls an adaptive throttle refused locally, labelled `name`.
    pub const THROTTLE_REJECTED_TOTAL: &str = "resilience_throttle_rejected_total";
    /// Counter: faults injected by a fault injector, labelled `name`, `fault`.
    pub const FAULTS_INJECTED_TOTAL: &str = "resilience_faults_injected_total";
    /// Counter: configuration documents a registry applied or rejected, labelled
    /// `outcome` ([`outcome::APPLIED`](super::outcome::APPLIED) or
    /// [`outcome::REJECTED`](super::outcome::REJECTED)).
    pub const CONFIG_RELOADS_TOTAL: &str = "resilience_config_reloads_total";
}

/// The type of a metric.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetricType {
    /// A monotonically increasing count.
    Counter,
    /// A value that goes up and down.
    Gauge,
    /// A distribution of observed values.
    Histogram,
}

/// Everything known about one metric: the single source that [`describe`], the docs
/// table and the tests read.
#[derive(Clone, Copy, Debug)]
pub struct MetricSpec {
    /// The metric's name.
    pub name: &'static str,
    /// Counter, gauge or histogram.
    pub kind: MetricType,
    /// The unit, if it has one.
    pub unit: Option<metrics::Unit>,
    /// The label keys it carries.
    pub labels: &'static [&'static str],
    /// The help text exporters show.
    pub help: &'static str,
}

/// Every metric the primitives emit. More may be added in minor releases.
pub const METRICS: &[MetricSpec] = {
    use MetricType::{Counter, Gauge, Histogram};
    use label::{FAULT, FROM, NAME, OUTCOME, PRIMITIVE, ROLE, STATUS, TO, WHERE};
    use metrics::Unit::{Count, Seconds};
    &[
        MetricSpec {
            name: metric::CALLS_TOTAL,
            kind: Counter,
            unit: Some(Count),
            labels: &[PRIMITIVE, NAME, OUTCOME],
            help: "Calls through a resilience primitive, by outcome.",
        },
        MetricSpec {
            name: metric::CIRCUIT_STATE,
            kind: Gauge,
            unit: None,
            labels: &[NAME],
            help: "Circuit breaker state: 0 closed, 1 open, 2 half-open, 3 forced open, 4 disabled.",
        },
        MetricSpec {
            name: metric::CIRCUIT_TRANSITIONS_TOTAL,
            kind: Counter,
            unit: Some(Count),
            labels: &[NAME, FROM, TO],
            help: "Circuit breaker state transitions.",
        },
        MetricSpec {
            name: metric::RETRY_ATTEMPTS_TOTAL,
            kind: Counter,
            unit: Some(Count),
            labels: &[NAME, OUTCOME],
            help: "Attempts made by retry policies, by outcome.",
        },
        MetricSpec {
            name: metric::RETRY_BUDGET_EXHAUSTED_TOTAL,
            kind: Counter,
            unit: Some(Count),
            labels: &[NAME],
            help: "Retries refused because the retry budget was empty.",
        },
        MetricSpec {
            name: metric::BULKHEAD_IN_FLIGHT,
            kind: Gauge,
            unit: Some(Count),
            labels: &[NAME],
            help: "Calls currently holding a bulkhead permit.",
        },
        MetricSpec {
            name: metric::BULKHEAD_REJECTED_TOTAL,
            kind: Counter,
            unit: Some(Count),
            labels: &[NAME],
            help: "Calls rejected by a full bulkhead.",
        },
        MetricSpec {
            name: metric::BULKHEAD_WAIT_SECONDS,
            kind: Histogram,
            unit: Some(Seconds),
            labels: &[NAME],
            help: "Time spent waiting for a bulkhead permit.",
        },
        MetricSpec {
            name: metric::DEADLINE_EXCEEDED_TOTAL,
            kind: Counter,
            unit: Some(Count),
            labels: &[NAME, WHERE],
            help: "Deadlines that passed, before or during the call.",
        },
        MetricSpec {
            name: metric::IDEMPOTENCY_REQUESTS_TOTAL,
            kind: Counter,
            unit: Some(Count),
            labels: &[NAME, OUTCOME],
            help: "Requests seen by an idempotency layer, by outcome.",
        },
        MetricSpec {
            name: metric::HEDGES_SENT_TOTAL,
            kind: Counter,
            unit: Some(Count),
            labels: &[NAME],
            help: "Hedged attempts sent.",
        },
        MetricSpec {
            name: metric::HEDGES_WON_TOTAL,
            kind: Counter,
            unit: Some(Count),
            labels: &[NAME],
            help: "Calls answered by a hedged attempt rather than the first one.",
        },
        MetricSpec {
            name: metric::HEDGES_REFUSED_TOTAL,
            kind: Counter,
            unit: Some(Count),
            labels: &[NAME],
            help: "Hedges not sent because the budget was empty.",
        },
        MetricSpec {
            name: metric::FALLBACKS_TOTAL,
            kind: Counter,
            unit: Some(Count),
            labels: &[NAME, OUTCOME],
            help: "Failures a fallback answered, by what answered (or could not).",
        },
        MetricSpec {
            name: metric::COALESCE_REQUESTS_TOTAL,
            kind: Counter,
            unit: Some(Count),
            labels: &[NAME, ROLE],
            help: "Requests through a coalescer, by role.",
        },
        MetricSpec {
            name: metric::RATE_LIMIT_PERMITTED_TOTAL,
            kind: Counter,
            unit: Some(Count),
            labels: &[NAME],
            help: "Calls a rate limiter admitted.",
        },
        MetricSpec {
            name: metric::RATE_LIMIT_LIMITED_TOTAL,
            kind: Counter,
            unit: Some(Count),
            labels: &[NAME],
            help: "Calls a rate limiter refused.",
        },
        MetricSpec {
            name: metric::RATE_LIMIT_WAIT_SECONDS,
            kind: Histogram,
            unit: Some(Seconds),
            labels: &[NAME],
            help: "Time spent waiting for a rate limiter's turn.",
        },
        MetricSpec {
            name: metric::RATE_LIMIT_STORE_ERRORS_TOTAL,
            kind: Counter,
            unit: Some(Count),
            labels: &[NAME],
            help: "Rate limit checks whose store failed or timed out.",
        },
        MetricSpec {
            name: metric::HEALTH_CHECKS_TOTAL,
            kind: Counter,
            unit: Some(Count),
            labels: &[NAME, STATUS],
            help: "Health check runs, by result (pass, warn, fail).",
        },
        MetricSpec {
            name: metric::HEALTH_CHECK_DURATION_SECONDS,
            kind: Histogram,
            unit: Some(Seconds),
            labels: &[NAME],
            help: "How long health check runs took.",
        },
        MetricSpec {
            name: metric::CONCURRENCY_LIMIT,
            kind: Gauge,
            unit: Some(Count),
            labels: &[NAME],
            help: "The current concurrency limit of an adaptive bulkhead.",
        },
        MetricSpec {
            name: metric::THROTTLE_REJECTED_TOTAL,
            kind: Counter,
            unit: Some(Count),
            labels: &[NAME],
            help: "Calls an adaptive throttle refused locally.",
        },
        MetricSpec {
            name: metric::FAULTS_INJECTED_TOTAL,
            kind: Counter,
            unit: Some(Count),
            labels: &[NAME, FAULT],
            help: "Faults injected on purpose by a fault injector, by kind.",
        },
        MetricSpec {
            name: metric::CONFIG_RELOADS_TOTAL,
            kind: Counter,
            unit: Some(Count),
            labels: &[OUTCOME],
            help: "Configuration documents a registry applied, or rejected as invalid (nothing changed).",
        },
    ]
};

/// Label keys.
pub mod label {
    /// The kind of primitive ([`Primitive::as_str`](crate::Primitive::as_str)).
    pub const PRIMITIVE: &str = "primitive";
    /// The configured instance name (`"payments"`).
    pub const NAME: &str = "name";
    /// The outcome of a call (see [`outcome`](super::outcome)).
    pub const OUTCOME: &str = "outcome";
    /// The state a circuit breaker left (see [`circuit_state`](super::circuit_state)).
    pub const FROM: &str = "from";
    /// The state a circuit breaker entered (see [`circuit_state`](super::circuit_state)).
    pub const TO: &str = "to";
    /// Where a deadline passed (see [`deadline_where`](super::deadline_where)).
    pub const WHERE: &str = "where";
    /// A request's part in a coalesced call (see [`coalesce_role`](super::coalesce_role)).
    pub const ROLE: &str = "role";
    /// The result of a health check (see [`health_status`](super::health_status)).
    pub const STATUS: &str = "status";
    /// The kind of an injected fault (see [`fault`](super::fault)).
    pub const FAULT: &str = "fault";
}

/// Values of the `fault` label: what a [fault injector](crate::fault) did to a call.
pub mod fault {
    /// The call was delayed.
    pub const LATENCY: &str = "latency";
    /// The call got the error answer.
    pub const ERROR: &str = "error";
    /// The call was aborted.
    pub const ABORT: &str = "abort";
    /// The call was hung.
    pub const HANG: &str = "hang";

    /// Every value above.
    pub const ALL: &[&str] = &[LATENCY, ERROR, ABORT, HANG];
}

/// Values of the `outcome` label.
pub mod outcome {
    /// The call succeeded.
    pub const SUCCESS: &str = "success";
    /// The call failed (transient or permanent class).
    pub const FAILURE: &str = "failure";
    /// The call failed in a way that is not the dependency's fault (benign class).
    pub const BENIGN: &str = "benign";
    /// The call was not made: a primitive rejected it. Also a configuration document
    /// that was refused.
    pub const REJECTED: &str = "rejected";
    /// Configuration: a document was applied.
    pub const APPLIED: &str = "applied";
    /// The call was abandoned by a timeout or deadline.
    pub const TIMEOUT: &str = "timeout";
    /// The caller dropped the call's future before it finished.
    pub const CANCELLED: &str = "cancelled";

    /// Idempotency: first request with this key; the handler ran.
    pub const NEW: &str = "new";
    /// Idempotency: a stored response was replayed.
    pub const REPLAYED: &str = "replayed";
    /// Idempotency: the same key is in flight (409).
    pub const CONFLICT: &str = "conflict";
    /// Idempotency: the same key came with a different request (422).
    pub const MISMATCH: &str = "mismatch";
    /// Idempotency: the key was missing or malformed (400).
    pub const INVALID: &str = "invalid";
    /// Idempotency: the store failed.
    pub const STORE_ERROR: &str = "store_error";

    /// Fallback: a fixed value answered.
    pub const VALUE: &str = "value";
    /// Fallback: a value computed from the failure answered.
    pub const COMPUTED: &str = "computed";
    /// Fallback: the last success for the same key, within its maximum age, answered.
    pub const STALE: &str = "stale";
    /// Fallback: triggered, but had nothing to answer with (no fresh stale value and no
    /// other answer); the failure went through.
    pub const UNAVAILABLE: &str = "unavailable";

    /// Every outcome above.
    pub const ALL: &[&str] = &[
        SUCCESS,
        FAILURE,
        BENIGN,
        REJECTED,
        TIMEOUT,
        CANCELLED,
        NEW,
        REPLAYED,
        CONFLICT,
        MISMATCH,
        INVALID,
        STORE_ERROR,
        VALUE,
        COMPUTED,
        STALE,
        UNAVAILABLE,
    ];
}

/// Values of the `role` label of `resilience_coalesce_requests_total`.
pub mod coalesce_role {
    /// The request made the shared call.
    pub const LEADER: &str = "leader";
    /// The request waited for a call another request made.
    pub const FOLLOWER: &str = "follower";
    /// A waiting request made the call itself after the one making it went away.
    pub const TAKEOVER: &str = "takeover";
    /// The request was not coalesced (no key, or the coalescer held its maximum of keys).
    pub const BYPASS: &str = "bypass";

    /// Every role above.
    pub const ALL: &[&str] = &[LEADER, FOLLOWER, TAKEOVER, BYPASS];
}

/// Circuit breaker states: label values (`from`, `to`) and gauge values
/// (`resilience_circuit_state`).
pub mod circuit_state {
    /// Label value: closed.
    pub const CLOSED: &str = "closed";
    /// Label value: open.
    pub const OPEN: &str = "open";
    /// Label value: half-open.
    pub const HALF_OPEN: &str = "half_open";
    /// Label value: forced open by an operator.
    pub const FORCED_OPEN: &str = "forced_open";
    /// Label value: disabled by an operator (admits everything).
    pub const DISABLED: &str = "disabled";

    /// Gauge value for closed.
    pub const CLOSED_VALUE: f64 = 0.0;
    /// Gauge value for open.
    pub const OPEN_VALUE: f64 = 1.0;
    /// Gauge value for half-open.
    pub const HALF_OPEN_VALUE: f64 = 2.0;
    /// Gauge value for forced open.
    pub const FORCED_OPEN_VALUE: f64 = 3.0;
    /// Gauge value for disabled.
    pub const DISABLED_VALUE: f64 = 4.0;
}

/// Values of the `where` label of `resilience_deadline_exceeded_total`.
pub mod deadline_where {
    /// The deadline had passed before the call; the call was not made.
    pub const BEFORE_CALL: &str = "before_call";
    /// The deadline passed while the call ran; the call was abandoned.
    pub const DURING_CALL: &str = "during_call";
}

/// Values of the `status` label of `resilience_health_checks_total`: the IETF health check
/// response format's statuses, as [`health::Status::as_str`](crate::health::Status::as_str)
/// writes them.
pub mod health_status {
    /// The check passed.
    pub const PASS: &str = "pass";
    /// The check passed with a warning (degraded, saturated).
    pub const WARN: &str = "warn";
    /// The check failed (or did not answer within its timeout).
    pub const FAIL: &str = "fail";
}

/// Names of the span fields that [`call_span`] declares.
pub mod field {
    /// The protected operation's name.
    pub const OPERATION: &str = "operation";
    /// The attempt number (1-based) of the current call.
    pub const ATTEMPT: &str = "attempt";
    /// The time left before the ambient deadline, in seconds, when an attempt starts.
    pub const DEADLINE_REMAINING_SECONDS: &str = "deadline.remaining_seconds";
    /// The primitive guarding the call whose state the span shows
    /// ([`Primitive::as_str`](crate::Primitive::as_str)): its circuit breaker.
    pub const PRIMITIVE: &str = "primitive";
    /// That primitive's instance name.
    pub const INSTANCE: &str = "instance";
    /// The circuit breaker's state when it was asked for the attempt
    /// (a [`circuit_state`](super::circuit_state) value).
    pub const CIRCUIT_STATE: &str = "circuit.state";
    /// [`ErrorKind::as_str`](crate::ErrorKind::as_str).
    pub const ERROR_KIND: &str = "error.kind";
    /// [`Error::is_rejection`](crate::Error::is_rejection).
    pub const ERROR_REJECTION: &str = "error.rejection";
    /// The error's `Display` line.
    pub const ERROR_MESSAGE: &str = "error.message";
    /// [`Error::operation`](crate::Error::operation).
    pub const ERROR_OPERATION: &str = "error.operation";
    /// [`Error::primitive`](crate::Error::primitive).
    pub const ERROR_PRIMITIVE: &str = "error.primitive";
    /// [`Error::instance`](crate::Error::instance).
    pub const ERROR_INSTANCE: &str = "error.instance";
    /// [`Error::attempts`](crate::Error::attempts).
    pub const ERROR_ATTEMPTS: &str = "error.attempts";
    /// [`Error::elapsed`](crate::Error::elapsed), in seconds.
    pub const ERROR_ELAPSED_SECONDS: &str = "error.elapsed_seconds";
    /// [`Error::retry_after`](crate::Error::retry_after), in seconds.
    pub const ERROR_RETRY_AFTER_SECONDS: &str = "error.retry_after_seconds";
    /// [`Error::class`](crate::Error::class).
    pub const ERROR_CLASS: &str = "error.class";
    /// The free fields, formatted as `key=value` pairs.
    pub const ERROR_FIELDS: &str = "error.fields";
    /// The wrapped error's `Display`.
    pub const ERROR_SOURCE: &str = "error.source";

    /// Every field above.
    pub const ALL: &[&str] = &[
        OPERATION,
        ATTEMPT,
        DEADLINE_REMAINING_SECONDS,
        PRIMITIVE,
        INSTANCE,
        CIRCUIT_STATE,
        ERROR_KIND,
        ERROR_REJECTION,
        ERROR_MESSAGE,
        ERROR_OPERATION,
        ERROR_PRIMITIVE,
        ERROR_INSTANCE,
        ERROR_ATTEMPTS,
        ERROR_ELAPSED_SECONDS,
        ERROR_RETRY_AFTER_SECONDS,
        ERROR_CLASS,
        ERROR_FIELDS,
        ERROR_SOURCE,
    ];
}

/// The name of the span every protected call runs in.
pub const CALL_SPAN_NAME: &str = "resilience.call";

/// Opens a `resilience.call` span (INFO) for `operation`, with every field in [`field`]
/// declared so that [`Error::record_in`](crate::Error::record_in) and the primitives can
/// record into it.
pub fn call_span(operation: &str) -> Span {
    tracing::info_span!(
        "resilience.call",
        operation = operation,
        attempt = tracing::field::Empty,
        deadline.remaining_seconds = tracing::field::Empty,
        primitive = tracing::field::Empty,
        instance = tracing::field::Empty,
        circuit.state = tracing::field::Empty,
        error.kind = tracing::field::Empty,
        error.rejection = tracing::field::Empty,
        error.message = tracing::field::Empty,
        error.operation = tracing::field::Empty,
        error.primitive = tracing::field::Empty,
        error.instance = tracing::field::Empty,
        error.attempts = tracing::field::Empty,
        error.elapsed_seconds = tracing::field::Empty,
        error.retry_after_seconds = tracing::field::Empty,
        error.class = tracing::field::Empty,
        error.fields = tracing::field::Empty,
        error.source = tracing::field::Empty,
    )
}

/// Registers the unit and help text of every metric in [`METRICS`] with the installed
/// `metrics` recorder. Call it once after installing an exporter; calling it again is
/// harmless.
pub fn describe() {
    metrics::with_recorder(|recorder| {
        for spec in METRICS {
            let name = metrics::KeyName::from_const_str(spec.name);
            let help = metrics::SharedString::const_str(spec.help);
            match spec.kind {
                MetricType::Counter => recorder.describe_counter(name, spec.unit, help),
                MetricType::Gauge => recorder.describe_gauge(name, spec.unit, help),
                MetricType::Histogram => recorder.describe_histogram(name, spec.unit, help),
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn is_prometheus_name(s: &str) -> bool {
        let mut chars = s.chars();
        chars
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
            && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    }

    #[test]
    fn metric_names_are_unique_prefixed_and_prometheus_valid() {
        let unique: HashSet<_> = METRICS.iter().map(|m| m.name).collect();
        assert_eq!(unique.len(), METRICS.len());
        for spec in METRICS {
            assert!(spec.name.starts_with("resilience_"), "{}", spec.name);
            assert!(is_prometheus_name(spec.name), "{}", spec.name);
        }
    }

    #[test]
    fn names_follow_the_conventions_for_their_type_and_unit() {
        for spec in METRICS {
            let n = spec.name;
            match spec.kind {
                MetricType::Counter => assert!(n.ends_with("_total"), "{n}"),
                MetricType::Gauge => assert!(!n.ends_with("_total"), "{n}"),
                MetricType::Histogram => assert!(!n.ends_with("_total"), "{n}"),
            }
            assert_eq!(
                n.ends_with("_seconds"),
                spec.unit == Some(metrics::Unit::Seconds),
                "{n}: `_seconds` exactly when the unit is seconds"
            );
        }
    }

    #[test]
    fn every_metric_is_in_the_docs_table_with_its_type_and_labels() {
        let source = include_str!("telemetry.rs");
        for spec in METRICS {
            let kind = match spec.kind {
                MetricType::Counter => "counter",
                MetricType::Gauge => "gauge",
                MetricType::Histogram => "histogram",
            };
            let labels: Vec<String> = spec.labels.iter().map(|l| format!("`{l}`")).collect();
            let row = format!("//! | `{}` | {kind} | {} |", spec.name, labels.join(", "));
            assert!(source.contains(&row), "docs table lacks: {row}");
        }
    }

    #[test]
    fn describe_registers_help_and_unit_for_every_metric() {
        use metrics_util::debugging::DebuggingRecorder;

        let recorder = DebuggingRecorder::new();
        let snapshotter = recorder.snapshotter();
        metrics::with_local_recorder(&recorder, || {
            describe();
            for spec in METRICS {
                match spec.kind {
                    MetricType::Counter => metrics::counter!(spec.name).increment(1),
                    MetricType::Gauge => metrics::gauge!(spec.name).set(1.0),
                    MetricType::Histogram => metrics::histogram!(spec.name).record(0.5),
                }
            }
        });
        let snapshot = snapshotter.snapshot().into_vec();
        assert_eq!(snapshot.len(), METRICS.len());
        for (key, unit, description, _) in snapshot {
            let spec = METRICS
                .iter()
                .find(|s| s.name == key.key().name())
                .expect("only our metrics were registered");
            assert_eq!(description.as_deref(), Some(spec.help), "{}", spec.name);
            assert_eq!(unit, spec.unit, "{}", spec.name);
        }
    }

    #[test]
    fn call_span_declares_every_field() {
        let subscriber = tracing_subscriber::registry();
        tracing::subscriber::with_default(subscriber, || {
            let span = call_span("op");
            let fields = span.metadata().expect("span is enabled").fields();
            for name in field::ALL {
                assert!(fields.field(name).is_some(), "call_span lacks `{name}`");
            }
            assert_eq!(fields.len(), field::ALL.len());
        });
    }

    #[test]
    fn label_values_are_snake_case() {
        let values = outcome::ALL.iter().copied().chain([
            circuit_state::CLOSED,
            circuit_state::OPEN,
            circuit_state::HALF_OPEN,
            circuit_state::FORCED_OPEN,
            circuit_state::DISABLED,
            deadline_where::BEFORE_CALL,
            deadline_where::DURING_CALL,
            health_status::PASS,
            health_status::WARN,
            health_status::FAIL,
        ]);
        let values = values.chain(fault::ALL.iter().copied());
        let values = values.chain(coalesce_role::ALL.iter().copied());
        for v in values.chain(crate::Primitive::ALL.iter().map(|p| p.as_str())) {
            assert!(is_prometheus_name(v), "{v}");
        }
    }
}
