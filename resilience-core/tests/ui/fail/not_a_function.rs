#[resilience_core::resilient(name = "s")]
struct NotAFunction;

fn main() {}
