// A duration that does not parse is reported on the literal, with the accepted forms.
#[resilience_core::resilient(timeout = "300 millis please")]
async fn unparsable() -> Result<(), resilience_core::Error> {
    Ok(())
}

#[resilience_core::resilient(deadline = "2")]
async fn no_unit() -> Result<(), resilience_core::Error> {
    Ok(())
}

#[resilience_core::resilient(deadline = "0s")]
async fn zero() -> Result<(), resilience_core::Error> {
    Ok(())
}

fn main() {}
