//! Serialization helpers shared by the snapshots (feature `serde`).
//!
//! Durations are written as seconds, a JSON number (`1.5`), so that dashboards and
//! alerting rules can compare them without parsing.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serializer;

/// A duration as seconds (`f64`).
pub(crate) fn duration_secs<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

/// An optional duration as seconds, or `null`.
pub(crate) fn option_duration_secs<S: Serializer>(
    d: &Option<Duration>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.serialize_some(&d.as_secs_f64()),
        None => s.serialize_none(),
    }
}

/// A range of durations as `[low, high]` in seconds.
pub(crate) fn duration_range_secs<S: Serializer>(
    (low, high): &(Duration, Duration),
    s: S,
) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeTuple;
    let mut t = s.serialize_tuple(2)?;
    t.serialize_element(&low.as_secs_f64())?;
    t.serialize_element(&high.as_secs_f64())?;
    t.end()
}

/// A wall-clock time as an RFC 3339 string in UTC with milliseconds
/// (`2026-01-17T03:36:48.120Z`); a clock set before 1970 is written as the epoch.
pub(crate) fn rfc3339<S: Serializer>(t: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&humantime::format_rfc3339_millis((*t).max(UNIX_EPOCH)))
}
