//! The floor: the trivial service called directly, so every other figure can be read as
//! "this much added".
//!
//! `baseline/http_error` is the HTTP service with its error turned into [`Error`] by
//! tower's own `MapErr`, and nothing else: what any layer whose error is `Error` pays
//! before it does anything (the response is moved once more on its way out). Tower's
//! `RateLimit` and `ConcurrencyLimit` keep the inner service's error and do not pay it.

use std::convert::Infallible;

use resilience_core::Error;
use tower::ServiceExt;

use super::{Echo, HttpEcho, number, plain_request};
use crate::compare::{Comparison, Entry};

pub(super) fn comparisons() -> Vec<Comparison> {
    let http_error =
        ServiceExt::<http::Request<()>>::map_err(HttpEcho, |e: Infallible| Error::wrap(e));
    vec![
        Comparison::new("baseline/service")
            .zero_alloc()
            .ours(Entry::service("bare service", Echo, number)),
        Comparison::new("baseline/http_service")
            .zero_alloc()
            .ours(Entry::service("bare http service", HttpEcho, plain_request)),
        Comparison::new("baseline/http_error")
            .zero_alloc()
            .ours(Entry::service(
                "http service, error mapped",
                http_error,
                plain_request,
            )),
    ]
}
