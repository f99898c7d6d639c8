//! A strict reader of the Prometheus text exposition format (version 0.0.4), for tests
//! that check what a `/metrics` endpoint really serves.
//!
//! Stricter than a scraper: every sample must belong to a family declared by a `# TYPE`
//! line before it, a histogram's buckets must carry `le`, be cumulative and end in
//! `+Inf` equal to `_count`, and a line that is not a comment, a `HELP`/`TYPE` line or
//! a well-formed sample is an error.

use std::collections::BTreeMap;

/// One sample line: the full series name (with `_bucket`, `_sum`, ... suffix), its labels
/// in order, and its value.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    /// The series name as written.
    pub name: String,
    /// The labels, in the order written.
    pub labels: Vec<(String, String)>,
    /// The value.
    pub value: f64,
}

impl Sample {
    /// The value of label `key`, if present.
    pub fn label(&self, key: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// A metric family: its declared type and its samples.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Family {
    /// `counter`, `gauge`, `histogram`, `summary` or `untyped`.
    pub kind: String,
    /// The `# HELP` text, if any.
    pub help: Option<String>,
    /// Its samples, in order.
    pub samples: Vec<Sample>,
}

/// Parses a text exposition into families by name, or says which line is wrong and why.
pub fn parse(text: &str) -> Result<BTreeMap<String, Family>, String> {
    let mut families: BTreeMap<String, Family> = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        let at = |why: &str| format!("line {}: {why}: {line:?}", n + 1);
        if line.trim().is_empty() {
            continue;
        }
        if let Some(rest) = line.strip_prefix('#') {
            let mut words = rest.trim_start().splitn(3, ' ');
            match (words.next(), words.next(), words.next()) {
                (Some("TYPE"), Some(name), Some(kind)) => {
                    check_name(name).map_err(|e| at(&e))?;
                    if !["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind) {
                        return Err(at("unknown type"));
                    }
                    let family = families.entry(name.to_owned()).or_default();
                    if !family.kind.is_empty() || !family.samples.is_empty() {
                        return Err(at("TYPE repeated or after the family's samples"));
                    }
                    family.kind = kind.to_owned();
                }
                (Some("HELP"), Some(name), help) => {
                    check_name(name).map_err(|e| at(&e))?;
                    let family = families.entry(name.to_owned()).or_default();
                    if family.help.is_some() {
                        return Err(at("HELP repeated"));
                    }
                    family.help = Some(help.unwrap_or("").to_owned());
                }
                _ => {} // a comment
            }
            continue;
        }
        let sample = parse_sample(line).map_err(|e| at(&e))?;
        let family_name = family_of(&families, &sample.name)
            .ok_or_else(|| at("sample of no family declared by a TYPE line"))?;
        families
            .get_mut(&family_name)
            .expect("found above")
            .samples
            .push(sample);
    }
    for (name, family) in &families {
        if family.kind.is_empty() {
            return Err(format!("{name}: HELP without TYPE"));
        }
        if family.kind == "histogram" {
            check_histogram(name, family)?;
        }
    }
    Ok(families)
}

/// Checks that every family whose name ends in `_seconds` is a histogram, and returns
/// their names.
pub fn durations_are_histograms(
    families: &BTreeMap<String, Family>,
) -> Result<Vec<String>, String> {
    let mut durations = Vec::new();
    for (name, family) in families {
        if name.ends_with("_seconds") {
            if family.kind != "histogram" {
                return Err(format!("{name} is a {}, not a histogram", family.kind));
            }
            durations.push(name.clone());
        }
    }
    Ok(durations)
}

fn family_of(families: &BTreeMap<String, Family>, series: &str) -> Option<String> {
    if families.get(series).is_some_and(|f| !f.kind.is_empty()) {
        return Some(series.to_owned());
    }
    for suffix in ["_bucket", "_sum", "_count"] {
        if let Some(base) = series.strip_suffix(suffix) {
            let kind = families.get(base).map(|f| f.kind.as_str());
            let fits = match suffix {
                "_bucket" => kind == Some("histogram"),
                _ => matches!(kind, Some("histogram" | "summary")),
            };
            if fits {
                return Some(base.to_owned());
            }
        }
    }
    None
}

fn check_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':');
    if first_ok && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':') {
        Ok(())
    } else {
        Err(format!("invalid metric name {name:?}"))
    }
}

fn parse_value(s: &str) -> Result<f64, String> {
    match s {
        "+Inf" => Ok(f64::INFINITY),
        "-Inf" => Ok(f64::NEG_INFINITY),
        "NaN" => Ok(f64::NAN),
        _ => s.parse().map_err(|_| format!("invalid value {s:?}")),
    }
}

fn parse_sample(line: &str) -> Result<Sample, String> {
    let name_end = line.find(['{', ' ']).ok_or("a sample needs a value")?;
    let name = &line[..name_end];
    check_name(name)?;
    let mut rest = &line[name_end..];
    let mut labels = Vec::new();
    if let Some(after) = rest.strip_prefix('{') {
        rest = after;
        loop {
            if let Some(after) = rest.strip_prefix('}') {
                rest = after;
                break;
            }
            let eq = rest.find('=').ok_or("label without `=`")?;
            let key = &rest[..eq];
            check_name(key).map_err(|_| format!("invalid label name {key:?}"))?;
            rest = rest[eq + 1..]
                .strip_prefix('"')
                .ok_or("label value not quoted")?;
            let mut value = String::new();
            let mut chars = rest.char_indices();
            let end = loop {
                match chars.next() {
                    Some((_, '\\')) => match chars.next() {
                        Some((_, 'n')) => value.push('\n'),
                        Some((_, c @ ('\\' | '"'))) => value.push(c),
                        _ => return Err("invalid escape in a label value".into()),
                    },
                    Some((i, '"')) => break i,
                    Some((_, c)) => value.push(c),
                    None => return Err("unterminated label value".into()),
                }
            };
            if labels.iter().any(|(k, _)| k == key) {
                return Err(format!("label {key:?} repeated"));
            }
            labels.push((key.to_owned(), value));
            rest = &rest[end + 1..];
            rest = rest.strip_prefix(',').unwrap_or(rest);
        }
    }
    let mut fields = rest
        .strip_prefix(' ')
        .ok_or("no space before the value")?
        .split(' ');
    let value = parse_value(fields.next().ok_or("no value")?)?;
    if let Some(ts) = fields.next() {
        ts.parse::<i64>()
            .map_err(|_| format!("invalid timestamp {ts:?}"))?;
    }
    if fields.next().is_some() {
        return Err("trailing fields after the timestamp".into());
    }
    Ok(Sample {
        name: name.to_owned(),
        labels,
        value,
    })
}

/// Buckets per label set: `le` on every bucket, bounds increasing, counts cumulative,
/// a `+Inf` bucket equal to `_count`, and a `_sum`.
fn check_histogram(name: &str, family: &Family) -> Result<(), String> {
    type Key = Vec<(String, String)>;
    let mut buckets: BTreeMap<Key, Vec<(f64, f64)>> = BTreeMap::new();
    let mut counts: BTreeMap<Key, f64> = BTreeMap::new();
    let mut sums: BTreeMap<Key, f64> = BTreeMap::new();
    for sample in &family.samples {
        let mut key: Key = sample.labels.clone();
        if sample.name.ends_with("_bucket") {
            let le = sample
                .label("le")
                .ok_or_else(|| format!("{name}: a bucket without `le`"))?;
            let le = parse_value(le)?;
            key.retain(|(k, _)| k != "le");
            buckets.entry(key).or_default().push((le, sample.value));
        } else if sample.name.ends_with("_count") {
            counts.insert(key, sample.value);
        } else if sample.name.ends_with("_sum") {
            sums.insert(key, sample.value);
        } else {
            return Err(format!("{name}: a bare sample in a histogram"));
        }
    }
    for (key, series) in &buckets {
        if !series
            .windows(2)
            .all(|w| w[0].0 < w[1].0 && w[0].1 <= w[1].1)
        {
            return Err(format!(
                "{name}{key:?}: buckets not increasing or not cumulative"
            ));
        }
        let last = series.last().expect("an entry has a bucket");
        if last.0 != f64::INFINITY {
            return Err(format!("{name}{key:?}: no +Inf bucket"));
        }
        if counts.get(key) != Some(&last.1) {
            return Err(format!(
                "{name}{key:?}: _count differs from the +Inf bucket"
            ));
        }
        if !sums.contains_key(key) {
            return Err(format!("{name}{key:?}: no _sum"));
        }
    }
    if buckets.is_empty() && !family.samples.is_empty() {
        return Err(format!("{name}: a histogram without buckets"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "# HELP x_seconds Waits.\n# TYPE x_seconds histogram\n\
        x_seconds_bucket{name=\"a\",le=\"0.1\"} 1\nx_seconds_bucket{name=\"a\",le=\"+Inf\"} 3\n\
        x_seconds_sum{name=\"a\"} 0.9\nx_seconds_count{name=\"a\"} 3\n\
        # TYPE y_total counter\ny_total{name=\"a \\\"q\\\"\"} 2\n";

    #[test]
    fn a_well_formed_exposition_is_read_by_family() {
        let families = parse(GOOD).unwrap();
        assert_eq!(families["x_seconds"].kind, "histogram");
        assert_eq!(families["x_seconds"].samples.len(), 4);
        assert_eq!(
            families["y_total"].samples[0].label("name"),
            Some("a \"q\"")
        );
        assert_eq!(durations_are_histograms(&families).unwrap(), ["x_seconds"]);
    }

    #[test]
    fn malformed_expositions_are_refused_with_the_reason() {
        let bad = [
            ("y_total 1\n", "no family"),
            ("# TYPE y counter\ny{a=b} 1\n", "not quoted"),
            ("# TYPE y counter\ny 1 2 3\n", "trailing"),
            ("# TYPE y counter\ny one\n", "invalid value"),
            ("# TYPE y gauge\n# TYPE y gauge\n", "repeated"),
            (
                "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 3\n",
                "_count differs",
            ),
            (
                "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n",
                "cumulative",
            ),
        ];
        for (text, why) in bad {
            let err = parse(text).unwrap_err();
            assert!(err.contains(why), "{text:?}: {err}");
        }
    }

    #[test]
    fn a_duration_summary_is_reported() {
        let text = "# TYPE w_seconds summary\nw_seconds{quantile=\"0.5\"} 1\nw_seconds_sum 1\nw_seconds_count 1\n";
        let err = durations_are_histograms(&parse(text).unwrap()).unwrap_err();
        assert!(err.contains("summary"), "{err}");
    }
}
