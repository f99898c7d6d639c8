#[resilience_core::resilient(name = "sync")]
fn sync() -> Result<(), resilience_core::Error> {
    Ok(())
}

fn main() {}
