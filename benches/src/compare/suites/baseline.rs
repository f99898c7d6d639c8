//! The floor: the trivial service called directly, so every other figure can be read as
//! "this much added".

use super::{Echo, HttpEcho, number, plain_request};
use crate::compare::{Comparison, Entry};

pub(super) fn comparisons() -> Vec<Comparison> {
    vec![
        Comparison::new("baseline/service")
            .zero_alloc()
            .ours(Entry::service("bare service", Echo, number)),
        Comparison::new("baseline/http_service")
            .zero_alloc()
            .ours(Entry::service("bare http service", HttpEcho, plain_request)),
    ]
}
