// With retry, every owned argument is cloned for each attempt: a non-`Clone` one is an
// error on that argument, saying why.
struct Connection;

#[resilience_core::resilient(retry(attempts = 3))]
async fn send(conn: Connection, text: String, by_ref: &Connection) -> Result<(), resilience_core::Error> {
    let _ = (conn, text, by_ref);
    Ok(())
}

fn main() {}
