#[resilience_core::resilient(name = "nothing")]
async fn nothing() {}

#[resilience_core::resilient(name = "number")]
async fn number() -> u32 {
    1
}

fn main() {}
