// A path option must name an instance of the right primitive.
static NOT_A_BREAKER: u32 = 5;

#[resilience_core::resilient(circuit_breaker = NOT_A_BREAKER)]
async fn guarded() -> Result<(), resilience_core::Error> {
    Ok(())
}

struct NotAClassifier;

#[resilience_core::resilient(retry(attempts = 2), classify = NotAClassifier)]
async fn classified() -> Result<(), resilience_core::Error> {
    Ok(())
}

fn main() {}
