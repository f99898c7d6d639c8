//! [`HealthReport`] and [`CheckReport`]: what liveness and readiness answer, shaped after
//! the IETF health check response format (draft-inadarei-api-health-check).

use std::time::{Duration, SystemTime};

use super::Status;
use crate::{FieldValue, Name};

/// The answer of a liveness or readiness probe: an overall [`Status`] and one
/// [`CheckReport`] per component.
///
/// With feature `serde` it serializes in the draft's format (media type
/// `application/health+json`):
///
/// ```json
/// {
///   "status": "fail",
///   "checks": {
///     "lifecycle": [{ "componentType": "system", "observedValue": "ready", "status": "pass", "time": "..." }],
///     "postgres": [{ "componentType": "datastore", "status": "fail", "time": "...", "output": "..." }],
///     "inventory:circuitBreaker": [{ "componentType": "component", "observedValue": "closed", "status": "pass", "time": "..." }]
///   }
/// }
/// ```
///
/// `output` (error text) is included when present; call [`redact`](Self::redact) before
/// showing a report to clients that should not see it.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct HealthReport {
    /// The worst status among the checks, a non-critical check counting at most as
    /// `warn`; `pass` with no checks.
    pub status: Status,
    /// The components, in a stable order: lifecycle first, then the registered checks in
    /// registration order, then the registry's primitives by name.
    pub checks: Vec<CheckReport>,
}

impl HealthReport {
    /// A report of `checks`, its status aggregated from theirs.
    pub fn new(checks: Vec<CheckReport>) -> Self {
        let status = checks
            .iter()
            .map(CheckReport::contribution)
            .max()
            .unwrap_or(Status::Pass);
        Self { status, checks }
    }

    /// Whether the service should receive traffic (status `pass` or `warn`): answer 200
    /// when true, 503 otherwise.
    pub fn is_healthy(&self) -> bool {
        self.status.is_healthy()
    }

    /// The first check named `name`.
    pub fn check(&self, name: &str) -> Option<&CheckReport> {
        self.checks.iter().find(|c| c.name == name)
    }

    /// Removes every check's `output` (the raw error text, which can name hosts, queries
    /// or credentials).
    pub fn redact(&mut self) {
        for check in &mut self.checks {
            check.output = None;
        }
    }
}

/// One component's result: the draft's check object, plus its name (the key it is listed
/// under) and how long the check took.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct CheckReport {
    /// The key in the `checks` object (`"postgres"`, `"inventory:circuitBreaker"`).
    pub name: Name,
    /// The component's own status.
    pub status: Status,
    /// Whether a `fail` here fails the whole report (otherwise it counts as `warn`).
    pub critical: bool,
    /// `componentType`: `"datastore"`, `"component"`, `"system"`, ...
    pub component_type: Option<Name>,
    /// `observedValue`.
    pub observed_value: Option<FieldValue>,
    /// `observedUnit`.
    pub observed_unit: Option<Name>,
    /// `output`: the raw error text of a warning or failure.
    pub output: Option<String>,
    /// `time`: when the result was observed (the end of the check's run).
    pub time: SystemTime,
    /// How long the run took (zero for state read from a primitive).
    pub duration: Duration,
}

impl CheckReport {
    /// A critical report of `name` with `status`, observed now, with no other members
    /// (the fields are public, to fill in).
    pub fn new(name: impl Into<Name>, status: Status) -> Self {
        Self {
            name: name.into(),
            status,
            critical: true,
            component_type: None,
            observed_value: None,
            observed_unit: None,
            output: None,
            time: SystemTime::now(),
            duration: Duration::ZERO,
        }
    }

    /// What this check adds to the overall status.
    fn contribution(&self) -> Status {
        if self.critical {
            self.status
        } else {
            self.status.min(Status::Warn)
        }
    }

    pub(crate) fn with_component(mut self, component_type: &'static str) -> Self {
        self.component_type = Some(Name::from_static(component_type));
        self
    }

    pub(crate) fn with_observed(
        mut self,
        value: impl Into<FieldValue>,
        unit: Option<&'static str>,
    ) -> Self {
        self.observed_value = Some(value.into());
        self.observed_unit = unit.map(Name::from_static);
        self
    }
}

#[cfg(feature = "serde")]
mod serialize {
    use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};

    use super::{CheckReport, HealthReport};
    use crate::FieldValue;

    impl Serialize for HealthReport {
        fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            let mut map = serializer.serialize_map(Some(2))?;
            map.serialize_entry("status", &self.status)?;
            map.serialize_entry("checks", &Checks(&self.checks))?;
            map.end()
        }
    }

    /// The `checks` object: each name maps to the array of its reports (the draft allows
    /// several per key, one per instance of a component).
    struct Checks<'a>(&'a [CheckReport]);

    impl Serialize for Checks<'_> {
        fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            let mut map = serializer.serialize_map(None)?;
            for (i, check) in self.0.iter().enumerate() {
                let listed = self.0[..i].iter().any(|c| c.name == check.name);
                if !listed {
                    map.serialize_entry(check.name.as_str(), &Named(self.0, &check.name))?;
                }
            }
            map.end()
        }
    }

    struct Named<'a>(&'a [CheckReport], &'a str);

    impl Serialize for Named<'_> {
        fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            let mut seq = serializer.serialize_seq(None)?;
            for check in self.0.iter().filter(|c| c.name == self.1) {
                seq.serialize_element(check)?;
            }
            seq.end()
        }
    }

    /// One check object, with the draft's camelCase member names; absent members are
    /// left out rather than written as `null`.
    impl Serialize for CheckReport {
        fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            let mut map = serializer.serialize_map(None)?;
            if let Some(component_type) = &self.component_type {
                map.serialize_entry("componentType", component_type)?;
            }
            if let Some(value) = &self.observed_value {
                map.serialize_entry("observedValue", &Observed(value))?;
            }
            if let Some(unit) = &self.observed_unit {
                map.serialize_entry("observedUnit", unit)?;
            }
            map.serialize_entry("status", &self.status)?;
            map.serialize_entry("time", &Time(self.time))?;
            if let Some(output) = &self.output {
                map.serialize_entry("output", output)?;
            }
            map.end()
        }
    }

    struct Time(std::time::SystemTime);

    impl Serialize for Time {
        fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            crate::ser::rfc3339(&self.0, serializer)
        }
    }

    /// An observed value as a JSON string, number or boolean; a duration as seconds.
    struct Observed<'a>(&'a FieldValue);

    impl Serialize for Observed<'_> {
        fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            match self.0 {
                FieldValue::Str(v) => serializer.serialize_str(v),
                FieldValue::I64(v) => serializer.serialize_i64(*v),
                FieldValue::U64(v) => serializer.serialize_u64(*v),
                FieldValue::F64(v) => serializer.serialize_f64(*v),
                FieldValue::Bool(v) => serializer.serialize_bool(*v),
                FieldValue::Duration(v) => crate::ser::duration_secs(v, serializer),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_critical_failures_count_as_warnings() {
        let mut cache = CheckReport::new("cache", Status::Fail);
        cache.critical = false;
        let report = HealthReport::new(vec![CheckReport::new("db", Status::Pass), cache]);
        assert_eq!(report.status, Status::Warn);
        assert!(report.is_healthy());
        let report = HealthReport::new(vec![CheckReport::new("db", Status::Fail)]);
        assert_eq!(report.status, Status::Fail);
        assert_eq!(HealthReport::new(Vec::new()).status, Status::Pass);
    }
}
