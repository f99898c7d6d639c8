//! Instructions per call, counted by callgrind: figures that stay put on a busy machine,
//! where nanoseconds move by a tenth between runs.
//!
//! The compare binary runs itself once per contender under
//! `valgrind --tool=callgrind`, with collection on only inside the measured region (the
//! calls; not the setup, the warm-up, the inputs made ahead of each chunk, nor the clock
//! reads), and divides the instructions collected by the calls made. Instruction counts
//! undercount what costs cycles without costing instructions (a clock read through the
//! vDSO, a lock-prefixed atomic on a contended cache line, a cache miss), so the report
//! keeps nanoseconds beside them.

use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::Comparison;

/// Calls counted per contender.
pub const CALLS: u64 = 10_000;

/// The flag of the child process that runs one contender under callgrind.
pub const CHILD_FLAG: &str = "--count-instructions";

/// Whether `valgrind` runs here.
#[must_use]
pub fn available() -> bool {
    Command::new("valgrind")
        .arg("--version")
        .output()
        .is_ok_and(|out| out.status.success())
}

/// Instructions per call of contender `index` (0 is ours) of the comparison `name`,
/// counted by running `exe --count-instructions NAME INDEX CALLS` under callgrind.
///
/// # Errors
///
/// A message saying what failed: valgrind could not start or failed, or its output
/// holds no total.
pub fn count(exe: &Path, name: &str, index: usize, calls: u64) -> Result<f64, String> {
    static RUNS: AtomicUsize = AtomicUsize::new(0);
    let out = std::env::temp_dir().join(format!(
        "compare-callgrind-{}-{}.out",
        std::process::id(),
        RUNS.fetch_add(1, Ordering::Relaxed)
    ));
    let status = Command::new("valgrind")
        .arg("--tool=callgrind")
        .arg(format!("--callgrind-out-file={}", out.display()))
        .arg("--collect-atstart=no")
        .arg("--toggle-collect=*harness::counted*")
        .arg("--toggle-collect=*harness::uncounted*")
        .arg(exe)
        .args([CHILD_FLAG, name, &index.to_string(), &calls.to_string()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .map_err(|err| format!("valgrind did not start: {err}"))?;
    let text = std::fs::read_to_string(&out);
    let _ = std::fs::remove_file(&out);
    if !status.success() {
        return Err(format!("valgrind exited with {status}"));
    }
    let text = text.map_err(|err| format!("no callgrind output: {err}"))?;
    let total = total_instructions(&text).ok_or("callgrind output without a total")?;
    Ok(total as f64 / calls as f64)
}

/// The `summary:` (or `totals:`) figure of a callgrind output file.
fn total_instructions(text: &str) -> Option<u64> {
    text.lines()
        .find_map(|line| {
            line.strip_prefix("summary:")
                .or_else(|| line.strip_prefix("totals:"))
        })
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
}

/// The child process: runs contender `index` of the comparison `name` for `calls` calls
/// inside the counted region.
///
/// # Errors
///
/// When no comparison has that name or it has no such contender.
pub fn run_child(
    comparisons: &[Comparison],
    name: &str,
    index: usize,
    calls: u64,
) -> Result<(), String> {
    let comparison = comparisons
        .iter()
        .find(|c| c.name() == name)
        .ok_or_else(|| format!("no comparison named {name:?}"))?;
    let entry = comparison
        .entry(index)
        .ok_or_else(|| format!("{name}: no contender {index}"))?;
    entry.run_counted(calls);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_total_is_read_from_summary_or_totals_lines() {
        let text = "events: Ir\nfl=x\n1 2\nsummary: 123456\n";
        assert_eq!(total_instructions(text), Some(123_456));
        assert_eq!(total_instructions("totals: 42 7\n"), Some(42));
        assert_eq!(total_instructions("events: Ir\n"), None);
    }
}
