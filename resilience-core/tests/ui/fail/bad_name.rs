#[resilience_core::resilient(name = "")]
async fn empty() -> Result<(), resilience_core::Error> {
    Ok(())
}

#[resilience_core::resilient(name = 42)]
async fn number() -> Result<(), resilience_core::Error> {
    Ok(())
}

fn main() {}
