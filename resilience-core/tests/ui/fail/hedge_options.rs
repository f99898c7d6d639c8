// Hedge settings that cannot work, and functions whose attempts cannot overlap, are
// refused at compile time.
#[resilience_core::resilient(hedge(percentile = 1.5))]
async fn percentile_out_of_range() -> Result<(), resilience_core::Error> {
    Ok(())
}

#[resilience_core::resilient(hedge(delay = "10ms", percentile = 0.9))]
async fn both_delays() -> Result<(), resilience_core::Error> {
    Ok(())
}

#[resilience_core::resilient(hedge(max = 0, after = "1s"))]
async fn unknown_hedge_option() -> Result<(), resilience_core::Error> {
    Ok(())
}

#[resilience_core::resilient(hedge(max = 11))]
async fn too_many_hedges() -> Result<(), resilience_core::Error> {
    Ok(())
}

struct Counter(u32);

impl Counter {
    #[resilience_core::resilient(hedge(delay = "10ms"))]
    async fn bump(&mut self) -> Result<u32, resilience_core::Error> {
        self.0 += 1;
        Ok(self.0)
    }
}

#[resilience_core::resilient(hedge)]
async fn mutable_argument(out: &mut Vec<u8>) -> Result<(), resilience_core::Error> {
    out.push(1);
    Ok(())
}

#[resilience_core::resilient(fallback = "prices")]
async fn fallback_by_name() -> Result<(), resilience_core::Error> {
    Ok(())
}

fn main() {}
