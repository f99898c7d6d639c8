//! Async calls awaited in a loop on a current-thread runtime, as the compare binary's
//! `Entry::future` drives them, for instruction counts that stay repeatable on a loaded
//! machine (the `retry/fn*` and `macro/*` rows):
//!
//! ```text
//! cargo build --release -p resilience-benches --example asyncloop
//! valgrind --tool=callgrind --collect-atstart=no --toggle-collect='*asyncloop::measured*' \
//!     target/release/examples/asyncloop run_typed 20000
//! ```
//!
//! Divide the instructions collected by the iterations. `asyncloop list` names the cases.

use std::hint::black_box;
use std::time::Duration;

use resilience_benches::macros;
use resilience_core::Error;
use resilience_core::retry::{Backoff, RetryPolicy};

fn number() -> u64 {
    black_box(1)
}

async fn body() -> Result<u64, Error> {
    Ok(number())
}

fn main() {
    let mut args = std::env::args().skip(1);
    let case = args.next().unwrap_or_default();
    let n: usize = args.next().map_or(20_000, |s| s.parse().unwrap());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let policy = |budget: bool| {
        let mut b = RetryPolicy::builder()
            .name("compare")
            .max_attempts(3)
            .backoff(Backoff::exponential(Duration::from_millis(100)));
        if !budget {
            b = b.no_budget();
        }
        b.build().unwrap()
    };
    match case.as_str() {
        "run_typed" => {
            let p = policy(true);
            measured(&rt, run(n, async || p.run_typed(body).await.is_ok()));
        }
        "run_typed_no_budget" => {
            let p = policy(false);
            measured(&rt, run(n, async || p.run_typed(body).await.is_ok()));
        }
        "macro_retry" => measured(
            &rt,
            run(n, async || macros::with_retry(number()).await.is_ok()),
        ),
        "hand_retry" => measured(
            &rt,
            run(n, async || {
                macros::hand_composed_retry(number()).await.is_ok()
            }),
        ),
        "macro_full" => measured(
            &rt,
            run(n, async || macros::full_stack(number()).await.is_ok()),
        ),
        "hand_full" => measured(
            &rt,
            run(n, async || {
                macros::hand_composed_full_stack(number()).await.is_ok()
            }),
        ),
        "backon" => measured(
            &rt,
            run(n, async || macros::backon_retry(number()).await.is_ok()),
        ),
        _ => println!(
            "run_typed run_typed_no_budget macro_retry hand_retry macro_full hand_full backon"
        ),
    }
}

/// The measured region: `fut` driven to completion.
#[inline(never)]
fn measured(rt: &tokio::runtime::Runtime, fut: impl std::future::Future<Output = ()>) {
    rt.block_on(fut);
}

async fn run(n: usize, mut f: impl AsyncFnMut() -> bool) {
    let mut ok = 0;
    for _ in 0..n {
        ok += usize::from(black_box(f().await));
    }
    assert_eq!(ok, n);
}
