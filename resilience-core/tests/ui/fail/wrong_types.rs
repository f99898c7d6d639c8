// Each option says what kind of value it takes.
#[resilience_core::resilient(timeout = 300)]
async fn number_for_duration() -> Result<(), resilience_core::Error> {
    Ok(())
}

#[resilience_core::resilient(retry(attempts = "3"))]
async fn string_for_attempts() -> Result<(), resilience_core::Error> {
    Ok(())
}

#[resilience_core::resilient(circuit_breaker = 5)]
async fn number_for_breaker() -> Result<(), resilience_core::Error> {
    Ok(())
}

#[resilience_core::resilient(classify = "transient")]
async fn string_for_classifier() -> Result<(), resilience_core::Error> {
    Ok(())
}

#[resilience_core::resilient(retry = 3)]
async fn value_for_retry() -> Result<(), resilience_core::Error> {
    Ok(())
}

fn main() {}
