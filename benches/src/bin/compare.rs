//! Ours against the peers, side by side, in one process:
//! `cargo run --release -p resilience-benches --bin compare -- [--quick] [--json] [--check] [--markdown] [--instructions | --no-instructions] [FILTER]`.
//!
//! Prints a table (ns per call, instructions per call, allocations per call, two
//! threads, ratios peer/ours) or, with `--json`, the same rows as JSON (`--markdown`: as
//! a Markdown table). Instructions are
//! counted with callgrind when `valgrind` is installed (a full run counts them unless
//! `--no-instructions`; `--quick` only with `--instructions`); see
//! `resilience_benches::compare::instructions`. `FILTER` keeps the comparisons whose name contains
//! it. `--check` exits non-zero (after printing) when a comparison is missing, a figure
//! is not a finite positive number, or a success path that must not allocate does. See
//! `resilience_benches::compare` for how the figures are taken.

use std::alloc::System;
use std::process::ExitCode;

use resilience_benches::compare::{self, Settings, instructions};
use stats_alloc::{INSTRUMENTED_SYSTEM, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const USAGE: &str = "usage: compare [--quick] [--json | --markdown] [--check] [--instructions | --no-instructions] [FILTER]";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some(instructions::CHILD_FLAG) {
        return count_child(&args[1..]);
    }
    let mut settings = Settings::full();
    let mut quick = false;
    let mut count_instructions = None;
    let mut json = false;
    let mut markdown = false;
    let mut check = false;
    let mut filter = None;
    for arg in args {
        match arg.as_str() {
            "--quick" => {
                settings = Settings::quick();
                quick = true;
            }
            "--instructions" => count_instructions = Some(true),
            "--no-instructions" => count_instructions = Some(false),
            "--json" => json = true,
            "--markdown" => markdown = true,
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
    let mut measurements: Vec<_> = comparisons
        .into_iter()
        .enumerate()
        .map(|(i, c)| {
            eprintln!("[{}/{total}] {}", i + 1, c.name());
            c.measure(&settings, Some(GLOBAL))
        })
        .collect();
    let instructions_note = match count_instructions.unwrap_or(!quick) {
        false => Some("instructions not counted (run without --quick, or with --instructions)"),
        true if !instructions::available() => {
            Some("instructions not counted: valgrind is not installed (apt-get install valgrind)")
        }
        true => {
            if let Err(err) = count_all(&mut measurements) {
                eprintln!("compare: {err}");
                return ExitCode::FAILURE;
            }
            None
        }
    };
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
        if markdown {
            print!("{}", compare::to_markdown(&rows));
        } else {
            print!("{}", compare::to_table(&rows));
        }
        println!(
            "\nmedians; ns/call and instr (instructions per call, callgrind) include the \
             trivial inner service (see baseline/*); peer/ours > 1 means ours is faster"
        );
        if let Some(note) = instructions_note {
            println!("{note}");
        }
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

/// Counts every contender's instructions per call, one callgrind child process each.
fn count_all(measurements: &mut [compare::Measurement]) -> Result<(), String> {
    let exe = std::env::current_exe().map_err(|err| format!("no path to this binary: {err}"))?;
    let total: usize = measurements.iter().map(|m| 1 + m.peers.len()).sum();
    let mut done = 0;
    for m in measurements.iter_mut() {
        let contenders = std::iter::once(&mut m.ours).chain(m.peers.iter_mut().map(|(_, p)| p));
        for (index, measured) in contenders.enumerate() {
            done += 1;
            eprintln!("[instructions {done}/{total}] {} #{index}", m.name);
            let per_call = instructions::count(&exe, m.name, index, instructions::CALLS)
                .map_err(|err| format!("counting {} #{index}: {err}", m.name))?;
            measured.instructions_per_call = Some(per_call);
        }
    }
    Ok(())
}

/// The child process of [`count_all`]: `--count-instructions NAME INDEX CALLS`.
fn count_child(args: &[String]) -> ExitCode {
    let [name, index, calls] = args else {
        eprintln!(
            "usage: compare {} NAME INDEX CALLS",
            instructions::CHILD_FLAG
        );
        return ExitCode::from(2);
    };
    let (Ok(index), Ok(calls)) = (index.parse(), calls.parse()) else {
        eprintln!("compare: INDEX and CALLS are numbers");
        return ExitCode::from(2);
    };
    match instructions::run_child(&compare::suites::all(), name, index, calls) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("compare: {err}");
            ExitCode::from(2)
        }
    }
}
