//! Every example binary runs to completion and shows what it promises, so none rots.

use std::process::Command;

fn run(exe: &str) -> String {
    let output = Command::new(exe).output().expect("the example starts");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{exe} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

#[test]
fn axum_stack_retries_times_out_and_opens_the_breaker() {
    let out = run(env!("CARGO_BIN_EXE_axum_stack"));
    assert!(out.contains("200 OK"), "{out}");
    assert!(out.contains("504 Gateway Timeout"), "{out}");
    assert!(out.contains("circuit_open"), "{out}");
}

#[test]
fn config_reload_applies_file_changes_in_place_and_refuses_a_broken_file() {
    let out = run(env!("CARGO_BIN_EXE_config_reload"));
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("loaded "), "{out}");
    assert_eq!(
        lines[1..],
        [
            "capacity 2: 2 of 5 searches admitted",
            "reloaded (file changed)",
            "capacity 4: 4 of 5 searches admitted",
            "rejected (file changed): bulkhead.search.max_concurrent: must be at least 1, got 0",
            "capacity 4: 4 of 5 searches admitted",
            "reloaded (file changed)",
            "capacity 5: 5 of 5 searches admitted",
        ],
        "{out}"
    );
}

#[test]
fn deadline_chain_hands_the_budget_on_and_gives_up_together() {
    let out = run(env!("CARGO_BIN_EXE_deadline_chain"));
    assert!(out.contains("inventory received, budget left:"), "{out}");
    assert!(out.contains("-> 200 OK"), "{out}");
    assert!(out.contains("-> 504 Gateway Timeout"), "{out}");
}

#[test]
fn health_turns_503_when_the_breaker_opens_and_shuts_down_gracefully() {
    let out = run(env!("CARGO_BIN_EXE_health"));
    assert!(out.contains("while inventory works: 200 OK"), "{out}");
    assert!(out.contains("after five failures: 503"), "{out}");
    assert!(
        out.contains(r#""inventory:circuitBreaker":[{"componentType":"component","observedValue":"open","status":"fail""#),
        "{out}"
    );
    assert!(
        out.contains("resilience_circuit_state{name=\"inventory\"} 1"),
        "{out}"
    );
    assert!(out.contains("shut down gracefully"), "{out}");
}

#[test]
fn health_serves_metrics_a_prometheus_parser_reads_with_every_duration_a_histogram() {
    use resilience_test_support::prometheus;

    let out = run(env!("CARGO_BIN_EXE_health"));
    let metrics = metrics_section(&out);
    let families = prometheus::parse(metrics).unwrap_or_else(|e| panic!("{e}\n{metrics}"));
    let durations = prometheus::durations_are_histograms(&families).unwrap();
    assert!(
        durations.contains(&"resilience_health_check_duration_seconds".to_owned()),
        "{durations:?}"
    );
    assert_eq!(families["resilience_circuit_state"].kind, "gauge");
}

#[test]
fn grpc_retries_unavailable_ends_at_the_deadline_opens_on_trailers_and_exports_histograms() {
    use resilience_test_support::prometheus;

    let out = run(env!("CARGO_BIN_EXE_grpc"));
    assert!(
        out.contains(r#"Reserve -> OK "reserved" (the server was called 3 times)"#),
        "{out}"
    );
    assert!(out.contains("Slow -> DeadlineExceeded"), "{out}");
    assert!(
        out.contains("Broken -> Unavailable: backend lost (breaker Open)"),
        "{out}"
    );
    assert!(out.contains("circuit breaker is open"), "{out}");
    let metrics = metrics_section(&out);
    let families = prometheus::parse(metrics).unwrap_or_else(|e| panic!("{e}\n{metrics}"));
    let durations = prometheus::durations_are_histograms(&families).unwrap();
    assert!(
        durations.contains(&"resilience_bulkhead_wait_seconds".to_owned()),
        "{durations:?}"
    );
}

/// The `/metrics` text an example printed between its markers.
fn metrics_section(out: &str) -> &str {
    out.split_once("GET /metrics:\n")
        .and_then(|(_, rest)| rest.split_once("--- end of /metrics"))
        .map(|(text, _)| text)
        .unwrap_or_else(|| panic!("no /metrics in:\n{out}"))
}

#[test]
fn otel_exports_call_spans_with_the_breaker_state_each_call_met() {
    let out = run(env!("CARGO_BIN_EXE_otel"));
    assert!(out.contains("call -> 42"), "{out}");
    assert!(out.contains("circuit breaker is open"), "{out}");
    assert_eq!(out.matches("span resilience.call {").count(), 3, "{out}");
    assert!(out.contains("circuit.state=open"), "{out}");
    assert!(out.contains("instance=otel.inventory"), "{out}");
}

#[test]
fn idempotent_payments_charges_once_per_key_or_skips_without_redis() {
    let out = run(env!("CARGO_BIN_EXE_idempotent_payments"));
    if out.starts_with("skipping") {
        // `.ci/run` starts a Redis and requires it: there the example must not skip.
        assert!(
            std::env::var_os("RESILIENCE_REQUIRE_REDIS").is_none(),
            "Redis is required but the example skipped:\n{out}"
        );
        eprintln!("skipped: {out}");
        return;
    }
    assert!(
        out.contains("the handler charged 2 times for 2 payments"),
        "{out}"
    );
    assert!(out.contains("422"), "{out}");
}

#[test]
fn quickstart_opens_its_breaker_refuses_with_503_and_retry_after_then_recovers() {
    let out = run(env!("CARGO_BIN_EXE_quickstart"));
    assert!(out.contains("Retry-After"), "{out}");
    assert!(out.contains("circuit_open"), "{out}");
    assert!(out.contains("breaker Closed: GET /charge -> 200"), "{out}");
    assert!(
        out.contains("the handler ran 4 times for 7 requests"),
        "{out}"
    );
}

#[test]
fn rate_limit_answers_429_with_headers_paces_a_client_and_shares_a_limit_through_redis() {
    let out = run(env!("CARGO_BIN_EXE_rate_limit"));
    let searches: Vec<&str> = out
        .lines()
        .filter(|line| line.starts_with("GET /search -> "))
        .collect();
    assert_eq!(searches.len(), 5, "{out}");
    // Three at once, each telling the client what is left.
    for (line, left) in searches[..3].iter().zip([2, 1, 0]) {
        assert!(line.starts_with("GET /search -> 200 OK"), "{out}");
        assert!(
            line.contains(r#"ratelimit-policy: "per-client";q=3;w=10"#),
            "{out}"
        );
        assert!(
            line.contains(&format!(r#"ratelimit: "per-client";r={left};t="#)),
            "{out}"
        );
    }
    // Then refused, with when to come back, as problem+json.
    let refused = out
        .lines()
        .find(|line| line.starts_with("GET /search -> 429 Too Many Requests"))
        .unwrap_or_else(|| panic!("no 429:\n{out}"));
    let retry_after: u64 = refused
        .split("retry-after: ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|secs| secs.parse().ok())
        .unwrap_or_else(|| panic!("no Retry-After in {refused}"));
    assert!((1..=4).contains(&retry_after), "{refused}");
    assert!(
        refused.contains("content-type: application/problem+json"),
        "{out}"
    );
    assert!(out.contains(r#""kind":"rate_limited""#), "{out}");

    // Flat out, the provider refuses most calls; paced by the client layer, none.
    let flat_out: u32 = out
        .split("flat out: ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no flat-out line:\n{out}"));
    assert!(flat_out < 8, "{out}");
    assert!(
        out.contains("with RateLimitLayer::client (4 a second): 8 of 8 answered 200"),
        "{out}"
    );

    // CI runs a Redis (RESILIENCE_REDIS_URL) and requires it; elsewhere the example may
    // say it skipped (no URL set, or no Redis answering there).
    if out.contains("across two instances:") {
        assert!(
            out.contains(
                "across two instances: 6 of 12 admitted (3 by the first, 3 by the second)"
            ),
            "{out}"
        );
    } else {
        assert!(
            std::env::var_os("RESILIENCE_REQUIRE_REDIS").is_none(),
            "Redis is required but the example skipped:\n{out}"
        );
        assert!(out.contains("\nskipped: "), "{out}");
        eprintln!("the Redis part skipped: {out}");
    }
}
