//! Output: a table for people and JSON for scripts.

use serde::Serialize;

use super::Measurement;

/// One line of the report: ours against one peer. Its JSON keys are stable.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    /// What is compared.
    pub name: &'static str,
    /// Our contender.
    pub ours: &'static str,
    /// Our median time per call, in nanoseconds.
    pub ours_ns: f64,
    /// The peer.
    pub peer: &'static str,
    /// The peer's median time per call, in nanoseconds.
    pub peer_ns: f64,
    /// `peer_ns / ours_ns`: above 1 means we are faster.
    pub ratio: f64,
    /// Our heap allocations per call.
    pub ours_allocs: f64,
    /// The peer's heap allocations per call.
    pub peer_allocs: f64,
    /// Our time per call with two threads on one instance.
    pub ours_contended_ns: f64,
    /// The peer's time per call with two threads on one instance.
    pub peer_contended_ns: f64,
    /// Our instructions per call (callgrind), when counted.
    pub ours_instructions: Option<f64>,
    /// The peer's instructions per call (callgrind), when counted.
    pub peer_instructions: Option<f64>,
    /// `peer_instructions / ours_instructions`, when both were counted.
    pub instructions_ratio: Option<f64>,
}

/// One row per (comparison, peer); a comparison without peers gives one row with the peer
/// fields set to ours, so its figures still show.
#[must_use]
pub fn rows(measurements: &[Measurement]) -> Vec<Row> {
    measurements
        .iter()
        .flat_map(|m| {
            let peers: Vec<_> = if m.peers.is_empty() {
                vec![(m.ours_name, m.ours)]
            } else {
                m.peers.clone()
            };
            peers.into_iter().map(move |(peer, p)| Row {
                name: m.name,
                ours: m.ours_name,
                ours_ns: round2(m.ours.ns_per_call),
                peer,
                peer_ns: round2(p.ns_per_call),
                ratio: round2(p.ns_per_call / m.ours.ns_per_call.max(1e-3)),
                ours_allocs: round2(m.ours.allocs_per_call),
                peer_allocs: round2(p.allocs_per_call),
                ours_contended_ns: round2(m.ours.contended_ns_per_call),
                peer_contended_ns: round2(p.contended_ns_per_call),
                ours_instructions: m.ours.instructions_per_call.map(round1),
                peer_instructions: p.instructions_per_call.map(round1),
                instructions_ratio: m
                    .ours
                    .instructions_per_call
                    .zip(p.instructions_per_call)
                    .map(|(ours, peer)| round2(peer / ours.max(1e-3))),
            })
        })
        .collect()
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// Allocations per call below which a success path counts as allocation-free: a stray
/// allocation of the executor over a counting run shows up as a tiny fraction, an
/// allocation per call as 1.
pub const ZERO_ALLOC_TOLERANCE: f64 = 0.01;

/// What is wrong with a run, one line per problem (empty: all good): a comparison of
/// `expected` that is missing, a figure that is not a finite positive number (allocation
/// counts: finite and not negative), or, for a comparison marked
/// [`zero_alloc`](super::Comparison::zero_alloc), our success path allocating.
#[must_use]
pub fn check(measurements: &[Measurement], expected: &[&str]) -> Vec<String> {
    let mut problems = Vec::new();
    for name in expected {
        if !measurements.iter().any(|m| m.name == *name) {
            problems.push(format!("{name}: missing"));
        }
    }
    for m in measurements {
        let contenders = std::iter::once((m.ours_name, &m.ours))
            .chain(m.peers.iter().map(|(name, measured)| (*name, measured)));
        for (who, measured) in contenders {
            for (what, value) in [
                ("ns/call", measured.ns_per_call),
                ("2-thread ns/call", measured.contended_ns_per_call),
            ] {
                if !(value.is_finite() && value > 0.0) {
                    problems.push(format!("{}: {who}: {what} is {value}", m.name));
                }
            }
            if let Some(instructions) = measured.instructions_per_call
                && !(instructions.is_finite() && instructions > 0.0)
            {
                problems.push(format!(
                    "{}: {who}: instructions/call is {instructions}",
                    m.name
                ));
            }
            let allocs = measured.allocs_per_call;
            if !(allocs.is_finite() && allocs >= 0.0) {
                problems.push(format!("{}: {who}: allocs/call is {allocs}", m.name));
            }
        }
        if m.zero_alloc && m.ours.allocs_per_call >= ZERO_ALLOC_TOLERANCE {
            problems.push(format!(
                "{}: {}: {} allocations per call on a success path that must not allocate",
                m.name, m.ours_name, m.ours.allocs_per_call
            ));
        }
    }
    problems
}

/// The rows as a JSON array.
///
/// # Errors
///
/// Never in practice: every field serialises; the `Result` is serde_json's.
pub fn to_json(rows: &[Row]) -> serde_json::Result<String> {
    serde_json::to_string_pretty(rows)
}

/// The rows as a Markdown table (the README's performance table).
#[must_use]
pub fn to_markdown(rows: &[Row]) -> String {
    let instr = |x: Option<f64>| x.map_or_else(String::new, |x| format!("{x:.0}"));
    let ratio = |x: Option<f64>| x.map_or_else(String::new, |x| format!("{x:.2}x"));
    let mut out = String::from(
        "| comparison | ours | ns/call | instr | allocs | 2 threads | peer | ns/call | instr | allocs | 2 threads | peer/ours | instr peer/ours |\n\
         |---|---|--:|--:|--:|--:|---|--:|--:|--:|--:|--:|--:|\n",
    );
    for r in rows {
        out.push_str(&format!(
            "| {} | {} | {:.1} | {} | {:.2} | {:.1} | {} | {:.1} | {} | {:.2} | {:.1} | {:.2}x | {} |\n",
            r.name,
            r.ours,
            r.ours_ns,
            instr(r.ours_instructions),
            r.ours_allocs,
            r.ours_contended_ns,
            r.peer,
            r.peer_ns,
            instr(r.peer_instructions),
            r.peer_allocs,
            r.peer_contended_ns,
            r.ratio,
            ratio(r.instructions_ratio),
        ));
    }
    out
}

/// The rows as an aligned text table.
#[must_use]
pub fn to_table(rows: &[Row]) -> String {
    let header = [
        "comparison",
        "ours",
        "ns/call",
        "instr",
        "allocs",
        "2 threads",
        "peer",
        "ns/call",
        "instr",
        "allocs",
        "2 threads",
        "peer/ours",
        "instr peer/ours",
    ];
    let instr = |x: Option<f64>| x.map_or_else(|| "-".to_owned(), |x| format!("{x:.0}"));
    let cells: Vec<[String; 13]> = rows
        .iter()
        .map(|r| {
            [
                r.name.to_owned(),
                r.ours.to_owned(),
                format!("{:.1}", r.ours_ns),
                instr(r.ours_instructions),
                format!("{:.2}", r.ours_allocs),
                format!("{:.1}", r.ours_contended_ns),
                r.peer.to_owned(),
                format!("{:.1}", r.peer_ns),
                instr(r.peer_instructions),
                format!("{:.2}", r.peer_allocs),
                format!("{:.1}", r.peer_contended_ns),
                format!("{:.2}x", r.ratio),
                r.instructions_ratio
                    .map_or_else(|| "-".to_owned(), |x| format!("{x:.2}x")),
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &cells {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cols: &[String]| {
        let mut out = String::new();
        for (i, (cell, w)) in cols.iter().zip(widths).enumerate() {
            // Text left-aligned, numbers right-aligned.
            if matches!(i, 0 | 1 | 6) {
                out.push_str(&format!("{cell:<w$}  "));
            } else {
                out.push_str(&format!("{cell:>w$}  "));
            }
        }
        out.trim_end().to_owned() + "\n"
    };
    let mut out = line(&header.map(str::to_owned));
    out.push_str(&line(&widths.map(|w| "-".repeat(w))));
    for row in &cells {
        out.push_str(&line(row));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compare::Measured;

    fn measured(ns: f64) -> Measured {
        Measured {
            ns_per_call: ns,
            allocs_per_call: 0.0,
            contended_ns_per_call: ns * 2.0,
            instructions_per_call: Some(ns * 3.0),
        }
    }

    #[test]
    fn rows_give_peer_over_ours_ratios_and_json_has_stable_keys() {
        let m = Measurement {
            name: "breaker/layer",
            ours: measured(10.0),
            ours_name: "resilience",
            peers: vec![("slow", measured(50.0)), ("fast", measured(5.0))],
            zero_alloc: true,
        };
        assert!(check(std::slice::from_ref(&m), &["breaker/layer"]).is_empty());
        let rows = rows(&[m]);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].ratio, 5.0);
        assert_eq!(rows[1].ratio, 0.5);
        assert_eq!(rows[0].instructions_ratio, Some(5.0));
        assert_eq!(rows[0].ours_instructions, Some(30.0));
        let json: serde_json::Value = serde_json::from_str(&to_json(&rows).unwrap()).unwrap();
        for key in ["name", "ours_ns", "peer", "peer_ns", "ratio", "ours_allocs"] {
            assert!(json[0].get(key).is_some(), "missing key {key}");
        }
        let markdown = to_markdown(&rows);
        assert_eq!(markdown.lines().count(), 2 + rows.len());
        assert!(markdown.contains("| 5.00x | 5.00x |"), "{markdown}");
        let table = to_table(&rows);
        assert!(
            table.contains("5.00x") && table.contains("0.50x"),
            "{table}"
        );
    }
}

#[cfg(test)]
mod check_tests {
    use super::*;
    use crate::compare::Measured;

    #[test]
    fn check_reports_missing_comparisons_bad_figures_and_allocating_success_paths() {
        let good = Measured {
            ns_per_call: 10.0,
            allocs_per_call: 0.0,
            contended_ns_per_call: 12.0,
            instructions_per_call: None,
        };
        let m = Measurement {
            name: "breaker/layer",
            ours: Measured {
                allocs_per_call: 1.0,
                ..good
            },
            ours_name: "resilience",
            peers: vec![(
                "peer",
                Measured {
                    ns_per_call: f64::NAN,
                    ..good
                },
            )],
            zero_alloc: true,
        };
        let problems = check(&[m], &["breaker/layer", "retry/layer"]);
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(problems[0].contains("retry/layer: missing"));
        assert!(problems[1].contains("peer: ns/call is NaN"));
        assert!(problems[2].contains("must not allocate"));
    }
}
