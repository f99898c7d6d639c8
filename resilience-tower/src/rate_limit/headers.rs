//! The IETF `RateLimit` and `RateLimit-Policy` fields
//! (draft-ietf-httpapi-ratelimit-headers), in their structured-field form:
//!
//! ```text
//! RateLimit-Policy: "api";q=100;w=60
//! RateLimit: "api";r=42;t=7
//! ```
//!
//! A GCRA limit of burst `B` and rate `R` is advertised as the quota `q=B` over the window
//! `w` = `B / R` (the time an exhausted key takes to get its whole burst back), in whole
//! seconds rounded up. `r` is what the key may still take at once, and `t` the seconds
//! until its whole quota is back, rounded up so that a client never comes back early.

use std::fmt::Write;
use std::time::Duration;

use http::{HeaderMap, HeaderName, HeaderValue};
use resilience_core::rate_limit::{FIELD_LIMIT, FIELD_RESET, FIELD_WINDOW, Grant};
use resilience_core::{Error, ErrorKind, FieldValue};

use crate::http::retry_after::ceil_secs;

/// `RateLimit`: what is left of a quota.
pub const RATELIMIT: HeaderName = HeaderName::from_static("ratelimit");

/// `RateLimit-Policy`: the quota itself.
pub const RATELIMIT_POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");

/// Writes `name` as a structured-field string: quoted, `"` and `\` escaped, and anything
/// that is not printable ASCII replaced by `?` (sf-strings allow nothing else).
fn push_sf_string(out: &mut String, name: &str) {
    out.push('"');
    for c in name.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            ' '..='~' => out.push(c),
            _ => out.push('?'),
        }
    }
    out.push('"');
}

fn value(text: String) -> HeaderValue {
    // Printable ASCII only, by construction.
    HeaderValue::try_from(text).unwrap_or_else(|_| HeaderValue::from_static("\"\""))
}

/// `"name";q=<limit>;w=<window>`.
pub(crate) fn policy(name: &str, limit: u64, window: Duration) -> HeaderValue {
    let mut out = String::with_capacity(name.len() + 24);
    push_sf_string(&mut out, name);
    let _ = write!(out, ";q={limit};w={}", ceil_secs(window).max(1));
    value(out)
}

/// `"name";r=<remaining>;t=<reset>`.
fn remaining(name: &str, remaining: u64, reset: Duration) -> HeaderValue {
    let mut out = String::with_capacity(name.len() + 24);
    push_sf_string(&mut out, name);
    let _ = write!(out, ";r={remaining};t={}", ceil_secs(reset));
    value(out)
}

/// The `RateLimit` value after `grant`.
pub(crate) fn grant_value(name: &str, grant: &Grant) -> HeaderValue {
    remaining(name, grant.remaining(), grant.reset())
}

/// Adds the `RateLimit-Policy` and `RateLimit` fields a `RateLimited` error carries (the
/// limiter's name and the `limit`, `window` and `reset` fields); other errors add nothing.
pub(crate) fn insert_for_error(err: &Error, headers: &mut HeaderMap) {
    if err.kind() != ErrorKind::RateLimited {
        return;
    }
    let Some(name) = err.instance() else {
        return;
    };
    if let (Some(FieldValue::U64(limit)), Some(FieldValue::Duration(window))) =
        (err.field(FIELD_LIMIT), err.field(FIELD_WINDOW))
    {
        headers.insert(RATELIMIT_POLICY, policy(name, *limit, *window));
    }
    if let Some(FieldValue::Duration(reset)) = err.field(FIELD_RESET) {
        headers.insert(RATELIMIT, remaining(name, 0, *reset));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_structured_field_strings() {
        assert_eq!(
            policy("api", 100, Duration::from_secs(60)),
            r#""api";q=100;w=60"#
        );
        assert_eq!(
            policy(r#"a"b\c"#, 1, Duration::from_millis(1)),
            r#""a\"b\\c";q=1;w=1"#
        );
        assert_eq!(
            remaining("per-client é", 0, Duration::from_millis(1500)),
            r#""per-client ?";r=0;t=2"#
        );
    }
}
