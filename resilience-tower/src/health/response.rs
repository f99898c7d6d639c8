//! A [`HealthReport`] as an HTTP response: 200 or 503, `application/health+json`.

use bytes::Bytes;
use http::header::{CACHE_CONTROL, CONTENT_TYPE};
use http::{HeaderValue, Response, StatusCode};
use http_body_util::Full;
use resilience_core::health::HealthReport;

/// The media type of the IETF health check response format.
pub const HEALTH_JSON: &str = "application/health+json";

/// The response for `report`: 200 when its status is `pass` or `warn`, 503 when `fail`;
/// `Content-Type: application/health+json`, `Cache-Control: no-store` (a cached "ready"
/// is worse than none), and the report as the draft's JSON. Check outputs (error text)
/// are removed unless `expose_output`.
///
/// ```
/// use http::StatusCode;
/// use resilience_core::health::{CheckReport, HealthReport, Status};
/// use resilience_tower::health::{HEALTH_JSON, response};
///
/// let mut db = CheckReport::new("db", Status::Fail);
/// db.output = Some("password authentication failed for user app".into());
/// let answer = response(HealthReport::new(vec![db]), false);
/// assert_eq!(answer.status(), StatusCode::SERVICE_UNAVAILABLE);
/// assert_eq!(answer.headers()["content-type"], HEALTH_JSON);
/// ```
pub fn response(mut report: HealthReport, expose_output: bool) -> Response<Full<Bytes>> {
    if !expose_output {
        report.redact();
    }
    let status = if report.is_healthy() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    // Fails only for a clock past the year 9999; the status alone is still a valid body.
    let body = serde_json::to_vec(&report)
        .unwrap_or_else(|_| format!(r#"{{"status":"{}"}}"#, report.status).into_bytes());
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(HEALTH_JSON));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
