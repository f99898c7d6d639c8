//! Helpers shared by the test targets.

/// Parses a problem+json body and checks the members RFC 9457 requires of us.
pub(crate) fn problem_json(body: &[u8]) -> serde_json::Value {
    let value: serde_json::Value = serde_json::from_slice(body).expect("body is JSON");
    assert!(value["type"].is_string(), "type: {value}");
    assert!(value["title"].is_string(), "title: {value}");
    assert!(value["status"].is_u64(), "status: {value}");
    value
}
