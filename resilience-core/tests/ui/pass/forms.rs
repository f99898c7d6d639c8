// Free functions, methods, generics, `impl Trait` arguments and result aliases all keep
// their signatures.
use resilience_core::{Error, resilient};

#[resilient(name = "free")]
async fn free(x: u32) -> Result<u32, Error> {
    Ok(x)
}

#[resilient]
async fn generic<T: Clone + Send>(value: T) -> Result<T, Error> {
    Ok(value.clone())
}

#[resilient(name = "impl_trait")]
async fn with_impl(items: impl IntoIterator<Item = u32>) -> Result<u32, Error> {
    Ok(items.into_iter().sum())
}

type AppResult<T> = Result<T, Error>;

#[resilient(name = "alias")]
async fn aliased() -> AppResult<()> {
    Ok(())
}

struct Counter(u32);

impl Counter {
    #[resilient(name = "counter.get")]
    async fn get(&self) -> Result<u32, Error> {
        Ok(self.0)
    }

    #[resilient(name = "counter.bump", crate = resilience_core)]
    async fn bump(&mut self) -> Result<u32, Error> {
        self.0 += 1;
        Ok(self.0)
    }
}

fn main() {
    let _ = (free(1), generic(2_u8), with_impl([1, 2]), aliased());
    let mut c = Counter(0);
    let _ = c.get();
    let _ = c.bump();
}

// `impl Trait` in the return type and early `return`s.
#[resilient(name = "display")]
async fn display(flag: bool) -> Result<impl std::fmt::Display, Error> {
    if flag {
        return Ok(1);
    }
    Ok(2)
}

#[resilient(name = "borrowed")]
async fn borrowed(text: &str) -> Result<&str, Error> {
    Ok(text.trim())
}

#[allow(dead_code)]
fn uses_more() {
    let _ = (display(true), borrowed(" x "));
}
