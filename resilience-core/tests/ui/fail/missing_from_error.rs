// With a primitive option, the primitives' errors become the function's `E`, so `E` must
// implement `From<resilience_core::Error>`; the error points at the return type.
#[derive(Debug)]
struct MyError;

#[resilience_core::resilient(timeout = "1s")]
async fn no_conversion() -> Result<(), MyError> {
    Ok(())
}

fn main() {}
