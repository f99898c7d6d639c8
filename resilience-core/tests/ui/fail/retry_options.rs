// Retry settings that cannot work are refused at compile time.
#[resilience_core::resilient(retry(attempts = 0))]
async fn zero_attempts() -> Result<(), resilience_core::Error> {
    Ok(())
}

#[resilience_core::resilient(retry(base = "2s", max = "500ms"))]
async fn base_over_max() -> Result<(), resilience_core::Error> {
    Ok(())
}

#[resilience_core::resilient(retry(backoff = "fibonacci", jitter = "some"))]
async fn unknown_names() -> Result<(), resilience_core::Error> {
    Ok(())
}

#[resilience_core::resilient(retry(attempts = 3, tries = 2))]
async fn unknown_retry_option() -> Result<(), resilience_core::Error> {
    Ok(())
}

#[resilience_core::resilient(retry(attempts = 2, attempts = 3))]
async fn duplicate_retry_option() -> Result<(), resilience_core::Error> {
    Ok(())
}

fn main() {}
