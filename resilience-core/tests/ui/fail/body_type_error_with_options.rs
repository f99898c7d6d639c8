// With options, a type error inside the body still points at the user's code.
#[resilience_core::resilient(name = "body", deadline = "1s", timeout = "100ms")]
async fn body(count: u32) -> Result<u32, resilience_core::Error> {
    let text: &str = "7";
    if count > 1 {
        return Ok(text);
    }
    Ok(count)
}

fn main() {}
