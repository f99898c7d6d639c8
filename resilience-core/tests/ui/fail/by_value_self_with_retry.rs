// With retry the body runs once per attempt, so `self` cannot be consumed by the first.
struct Client;

impl Client {
    #[resilience_core::resilient(retry(attempts = 3))]
    async fn send(self) -> Result<(), resilience_core::Error> {
        Ok(())
    }
}

fn main() {}
