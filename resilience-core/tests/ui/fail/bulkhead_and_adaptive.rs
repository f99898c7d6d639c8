#[resilience_core::resilient(bulkhead = "db", adaptive = "db")]
async fn both() -> Result<(), resilience_core::Error> {
    Ok(())
}

fn main() {}
