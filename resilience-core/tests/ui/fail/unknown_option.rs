#[resilience_core::resilient(nme = "typo")]
async fn typo() -> Result<(), resilience_core::Error> {
    Ok(())
}

fn main() {}
