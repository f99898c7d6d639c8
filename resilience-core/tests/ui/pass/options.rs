// Every option form parses and the expansion type-checks on every kind of function.
#![deny(warnings)]
use resilience_core::{Error, resilient};

#[resilient(name = "a", deadline = "2s", timeout = "300ms")]
async fn free(x: u32, mut y: String) -> Result<u32, Error> {
    y.push('!');
    Ok(x + y.len() as u32)
}

#[resilient(deadline = "1m 30s", crate = resilience_core)]
async fn generic<T: Clone + Send>(value: T, _: impl Send) -> Result<T, Error> {
    Ok(value)
}

#[resilient(timeout = "1500us")]
async fn patterns((a, b): (u32, u32), [c, d]: [u8; 2]) -> Result<u32, Error> {
    Ok(a + b + u32::from(c) + u32::from(d))
}

struct Svc(Vec<u32>);

impl Svc {
    #[resilient(timeout = "1s")]
    async fn get(&self, i: usize) -> Result<Option<&u32>, Error> {
        Ok(self.0.get(i))
    }

    #[resilient(deadline = "1s")]
    async fn push(&mut self, v: u32) -> Result<&mut Self, Error> {
        self.0.push(v);
        Ok(self)
    }

    #[resilient(timeout = "1s")]
    async fn consume(self) -> Result<Vec<u32>, Error> {
        Ok(self.0)
    }
}

#[resilient(timeout = "1s")]
async fn opaque(flag: bool) -> Result<impl std::fmt::Display, Error> {
    if flag {
        return Ok(1);
    }
    Ok(2)
}

fn main() {
    let _ = (free(1, String::new()), generic(1_u8, ()), patterns((1, 2), [3, 4]), opaque(true));
    let mut s = Svc(Vec::new());
    let _ = s.get(0);
    let _ = s.push(1);
    let _ = Svc(Vec::new()).consume();
}
