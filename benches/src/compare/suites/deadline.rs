//! Server deadline: ours (`DeadlineLayer`) against tower's `Timeout` and tower-http's
//! `Timeout` (answers `408`), each with a 1 s limit, on `http::Request<()>`s made outside
//! the timed region.
//!
//! - `deadline/no_header`: a request without a deadline header. Ours then has nothing to
//!   enforce and passes the call through untouched (no timer); the peers start their timer
//!   on every call regardless, since that is all they do.
//! - `deadline/header`: the request carries `connect-timeout-ms: 1000`. Ours parses it,
//!   makes it the ambient deadline and bounds the call by it (the timer is armed only if
//!   the call has to wait); the peers do what they always do.
//! - `deadline/header_extension`: the same with `request_extension(true)` (an opt-in: the
//!   `Deadline` goes into the request extensions too), which costs the extension's
//!   allocations.
//! - `deadline/default_timeout`: ours with `default_timeout(1 s)` on a request without a
//!   header: the same job as a fixed timeout, plus the ambient deadline.

use std::time::Duration;

use resilience_tower::deadline::DeadlineLayer;
use tower::Layer;

use super::{HttpEcho, plain_request, request_with_deadline};
use crate::compare::{Comparison, Entry};

const LIMIT: Duration = Duration::from_secs(1);

fn peers(comparison: Comparison, request: fn() -> http::Request<()>) -> Comparison {
    comparison
        .peer(Entry::service(
            "tower Timeout",
            tower::timeout::TimeoutLayer::new(LIMIT).layer(HttpEcho),
            request,
        ))
        .peer(Entry::service(
            "tower-http Timeout",
            tower_http::timeout::TimeoutLayer::with_status_code(
                http::StatusCode::REQUEST_TIMEOUT,
                LIMIT,
            )
            .layer(HttpEcho),
            request,
        ))
}

pub(super) fn comparisons() -> Vec<Comparison> {
    let no_header = Comparison::new("deadline/no_header")
        .zero_alloc()
        .ours(Entry::service(
            "resilience layer",
            DeadlineLayer::new().layer(HttpEcho),
            plain_request,
        ));
    let header = Comparison::new("deadline/header")
        .zero_alloc()
        .ours(Entry::service(
            "resilience layer",
            DeadlineLayer::new().layer(HttpEcho),
            request_with_deadline,
        ));
    let header_extension = Comparison::new("deadline/header_extension").ours(Entry::service(
        "resilience layer",
        DeadlineLayer::builder()
            .request_extension(true)
            .build()
            .expect("a valid deadline layer")
            .layer(HttpEcho),
        request_with_deadline,
    ));
    let default_timeout = Comparison::new("deadline/default_timeout")
        .zero_alloc()
        .ours(Entry::service(
            "resilience layer",
            DeadlineLayer::builder()
                .default_timeout(LIMIT)
                .build()
                .expect("a valid deadline layer")
                .layer(HttpEcho),
            plain_request,
        ));
    vec![
        peers(no_header, plain_request),
        peers(header, request_with_deadline),
        peers(header_extension, request_with_deadline),
        peers(default_timeout, plain_request),
    ]
}
