#[resilience_core::resilient(name = "a", name = "b")]
async fn twice() -> Result<(), resilience_core::Error> {
    Ok(())
}

fn main() {}
