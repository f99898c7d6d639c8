//! Ours against the peers, side by side, in one process:
//! `cargo run --release -p resilience-benches --bin compare -- [--quick] [--json] [--check] [FILTER]`.
//!
//! Prints a table (ns per call, allocations per call, two threads, ratio peer/ours) or,
//! with `--json`, the same rows as JSON. `FILTER` keeps the comparisons whose name contains
//! it. `--check` exits non-zero (after printing) when a comparison is missing, a figure
//! is not a finite positive number, or a success path that must not allocate does. See
//! `resilience_benches::compare` for how the figures are taken.

use std::alloc::System;
use std::process::ExitCode;

use resilience_benches::compare::{self, Settings};
use stats_alloc::{INSTRUMENTED_SYSTEM, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const USAGE: &str = "usage: compare [--quick] [--json] [--check] [FILTER]";

fn main() -> ExitCode {
    let mut settings = Settings::full();
    let mut json = false;
    let mut check = false;
    let mut filter = None;
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--quick" => settings = Settings::quick(),
            "--json" => json = true,
            "--check" => check = true,
            "-h" | "--help" => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            flag if flag.starts_with('-') => {
                eprintln!("compare: unknown flag {flag}\n{USAGE}");
                return ExitCode::from(2);
            }
            name => filter = Some(name.to_owned()),
        }
    }

    let comparisons: Vec<_> = compare::suites::all()
        .into_iter()
        .filter(|c| filter.as_deref().is_none_or(|f| c.name().contains(f)))
        .collect();
    if comparisons.is_empty() {
        eprintln!("compare: no comparison matches {filter:?}");
        return ExitCode::from(2);
    }
    let expected: Vec<&str> = comparisons.iter().map(|c| c.name()).collect();

    let total = comparisons.len();
    let measurements: Vec<_> = comparisons
        .into_iter()
        .enumerate()
        .map(|(i, c)| {
            eprintln!("[{}/{total}] {}", i + 1, c.name());
            c.measure(&settings, Some(GLOBAL))
        })
        .collect();
    let rows = compare::rows(&measurements);
    if json {
        match compare::to_json(&rows) {
            Ok(text) => println!("{text}"),
            Err(err) => {
                eprintln!("compare: {err}");
                return ExitCode::FAILURE;
            }
        }
    } else {
        print!("{}", compare::to_table(&rows));
        println!(
            "\nmedians; ns/call includes the trivial inner service (see baseline/*); \
             peer/ours > 1 means ours is faster"
        );
        for m in measurements.iter().filter(|m| m.peers.is_empty()) {
            println!(
                "{}: {:.2} M ops/s on one thread, {:.2} M ops/s with two",
                m.name,
                1e3 / m.ours.ns_per_call,
                2e3 / m.ours.contended_ns_per_call,
            );
        }
    }

    if check {
        let problems = compare::check(&measurements, &expected);
        if !problems.is_empty() {
            for problem in &problems {
                eprintln!("compare --check: {problem}");
            }
            return ExitCode::FAILURE;
        }
        eprintln!(
            "compare --check: {} comparisons, all figures good",
            expected.len()
        );
    }
    ExitCode::SUCCESS
}
