// A type error inside the body must point at the user's code, not at the macro.
#[resilience_core::resilient(name = "body")]
async fn body() -> Result<u32, resilience_core::Error> {
    let text: &str = "7";
    Ok(text)
}

fn main() {}
