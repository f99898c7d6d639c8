//! The floor: the trivial service called directly, so every other figure can be read as
//! "this much added".

use super::{Echo, call_once};
use crate::compare::{Comparison, Entry};

pub(super) fn comparisons() -> Vec<Comparison> {
    vec![
        Comparison::new("baseline/service").ours(Entry::future("bare service", || {
            let svc = Echo;
            move || {
                let mut svc = svc;
                async move { call_once(&mut svc).await }
            }
        })),
    ]
}
