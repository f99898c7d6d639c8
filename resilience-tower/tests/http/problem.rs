use std::time::Duration;

use http::StatusCode;
use http_body_util::BodyExt;
use resilience_core::{Error, ErrorKind};
use resilience_tower::http::{PROBLEM_JSON, ProblemConfig};

use resilience_test_support::http::problem_json;

fn expected_status(kind: ErrorKind) -> StatusCode {
    match kind {
        ErrorKind::CircuitOpen
        | ErrorKind::BulkheadFull
        | ErrorKind::RetryBudgetExhausted
        | ErrorKind::StoreUnavailable
        | ErrorKind::ShuttingDown
        | ErrorKind::Throttled => StatusCode::SERVICE_UNAVAILABLE,
        ErrorKind::DeadlineExceeded | ErrorKind::Timeout => StatusCode::GATEWAY_TIMEOUT,
        ErrorKind::IdempotencyConflict => StatusCode::CONFLICT,
        ErrorKind::IdempotencyMismatch => StatusCode::UNPROCESSABLE_ENTITY,
        ErrorKind::InvalidRequest => StatusCode::BAD_REQUEST,
        ErrorKind::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        ErrorKind::RateLimited => StatusCode::TOO_MANY_REQUESTS,
        ErrorKind::Inner => StatusCode::BAD_GATEWAY,
        _ => unreachable!("ErrorKind::ALL lists only these"),
    }
}

async fn body_of(response: http::Response<http_body_util::Full<bytes::Bytes>>) -> Vec<u8> {
    response
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .to_vec()
}

#[tokio::test]
async fn each_kind_gets_its_documented_status_and_a_problem_body() {
    let config = ProblemConfig::default();
    for &kind in ErrorKind::ALL {
        let response = config.response(&Error::new(kind));
        let status = response.status();
        assert_eq!(status, expected_status(kind), "{kind:?}");
        assert_eq!(response.headers()["content-type"], PROBLEM_JSON, "{kind:?}");
        assert!(
            response.headers().get("retry-after").is_none(),
            "{kind:?}: no hint, no header"
        );
        let body = problem_json(&body_of(response).await);
        assert_eq!(body["status"], status.as_u16(), "{kind:?}");
        assert_eq!(body["kind"], kind.as_str(), "{kind:?}");
        assert_eq!(body["type"], "about:blank", "{kind:?}");
        assert_eq!(
            body["title"],
            status.canonical_reason().unwrap(),
            "{kind:?}"
        );
        assert!(
            body["detail"].as_str().is_some_and(|d| d.ends_with('.')),
            "{kind:?}"
        );
        assert!(body.get("retry_after").is_none(), "{kind:?}");
        assert!(body.get("operation").is_none(), "{kind:?}");
    }
}

#[tokio::test]
async fn retry_after_is_present_exactly_when_a_hint_exists() {
    let config = ProblemConfig::default();
    for &kind in ErrorKind::ALL {
        for hint in [
            Duration::ZERO,
            Duration::from_millis(1),
            Duration::from_secs(30),
        ] {
            let err = Error::new(kind).with_retry_after(hint);
            let response = config.response(&err);
            let expected = hint.as_secs() + u64::from(hint.subsec_nanos() > 0);
            assert_eq!(
                response.headers()["retry-after"],
                expected.to_string().as_str(),
                "{kind:?} {hint:?}"
            );
            let body = problem_json(&body_of(response).await);
            assert_eq!(body["retry_after"], expected, "{kind:?} {hint:?}");
        }
    }
}

#[tokio::test]
async fn a_class_hint_also_produces_retry_after() {
    let err = Error::new(ErrorKind::Inner).with_class(resilience_core::Class::Transient {
        retry_after: Some(Duration::from_secs(7)),
    });
    let response = ProblemConfig::default().response(&err);
    assert_eq!(response.headers()["retry-after"], "7");
}

#[tokio::test]
async fn the_largest_hint_saturates_instead_of_overflowing() {
    let err = Error::new(ErrorKind::CircuitOpen).with_retry_after(Duration::MAX);
    let response = ProblemConfig::default().response(&err);
    assert_eq!(
        response.headers()["retry-after"],
        u64::MAX.to_string().as_str()
    );
}

#[tokio::test]
async fn the_wrapped_error_message_is_hidden_unless_configured() {
    let secret = "connect to 10.0.0.7:5432 failed: password authentication failed for user admin";
    for err in [
        Error::wrap(std::io::Error::other(secret)),
        // Even for a client-fault kind, the source is not the client's business.
        Error::new(ErrorKind::InvalidRequest).with_source(std::io::Error::other(secret)),
    ] {
        let hidden = body_of(ProblemConfig::default().response(&err)).await;
        assert!(
            !String::from_utf8_lossy(&hidden).contains("10.0.0.7"),
            "{err:?}"
        );
    }

    let err = Error::wrap(std::io::Error::other(secret));
    let shown = body_of(ProblemConfig::new().expose_sources(true).response(&err)).await;
    let body = problem_json(&shown);
    assert!(body["detail"].as_str().unwrap().contains(secret), "{body}");
}

#[tokio::test]
async fn the_error_detail_tells_the_client_what_to_fix() {
    let err =
        Error::new(ErrorKind::InvalidRequest).with_detail("`x-request-timeout-ms` is not a number");
    let body = problem_json(&body_of(ProblemConfig::default().response(&err)).await);
    assert_eq!(body["status"], 400);
    assert_eq!(body["detail"], "`x-request-timeout-ms` is not a number");
}

#[tokio::test]
async fn status_overrides_and_type_base_apply() {
    let config = ProblemConfig::new()
        .with_status(ErrorKind::BulkheadFull, StatusCode::TOO_MANY_REQUESTS)
        .type_base("https://api.example.test/problems/");
    let response = config.response(&Error::new(ErrorKind::BulkheadFull));
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let body = problem_json(&body_of(response).await);
    assert_eq!(body["status"], 429);
    assert_eq!(
        body["type"],
        "https://api.example.test/problems/bulkhead_full"
    );
    assert_eq!(body["title"], "Too many concurrent requests");
}

#[tokio::test]
async fn the_operation_name_is_reported_only_when_exposed() {
    let err = Error::new(ErrorKind::Timeout).with_operation("inventory.reserve");
    let hidden = problem_json(&body_of(ProblemConfig::default().response(&err)).await);
    assert!(hidden.get("operation").is_none(), "{hidden}");
    let config = ProblemConfig::new().expose_operation(true);
    let shown = problem_json(&body_of(config.response(&err)).await);
    assert_eq!(shown["operation"], "inventory.reserve");
}
