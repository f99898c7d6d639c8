//! What a body must be to parse as the IETF health check response format
//! (draft-inadarei-api-health-check).

use serde_json::Value;

const STATUSES: [&str; 3] = ["pass", "warn", "fail"];

/// The members a check object may have in the draft.
const CHECK_MEMBERS: [&str; 9] = [
    "componentId",
    "componentType",
    "observedValue",
    "observedUnit",
    "status",
    "affectedEndpoints",
    "time",
    "output",
    "links",
];

/// Parses `body` and checks it against the draft: a `status` of pass / warn / fail;
/// `checks` an object whose every member is a non-empty array of check objects, each with
/// a valid `status`, an RFC 3339 `time`, string `componentType` / `observedUnit` /
/// `output` when present, and no other members.
pub(crate) fn health_json(body: &[u8]) -> Value {
    let value: Value = serde_json::from_slice(body).expect("the body is JSON");
    let status = value["status"].as_str().expect("a string status");
    assert!(STATUSES.contains(&status), "status {status}");
    let checks = value["checks"].as_object().expect("checks is an object");
    for (key, list) in checks {
        let list = list
            .as_array()
            .unwrap_or_else(|| panic!("{key}: not an array"));
        assert!(!list.is_empty(), "{key}: empty");
        for check in list {
            let check = check.as_object().expect("a check object");
            for member in check.keys() {
                assert!(CHECK_MEMBERS.contains(&member.as_str()), "{key}: {member}");
            }
            let status = check["status"].as_str().expect("a string status");
            assert!(STATUSES.contains(&status), "{key}: status {status}");
            let time = check["time"].as_str().expect("a time");
            humantime::parse_rfc3339(time).unwrap_or_else(|e| panic!("{key}: {time}: {e}"));
            for member in ["componentType", "observedUnit", "output"] {
                if let Some(v) = check.get(member) {
                    assert!(v.is_string(), "{key}: {member} = {v}");
                }
            }
            if let Some(v) = check.get("observedValue") {
                assert!(!v.is_null(), "{key}: null observedValue");
            }
        }
    }
    value
}
