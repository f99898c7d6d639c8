//! A shared instance resolved on a function's first call and kept for the later ones.

use std::sync::OnceLock;

use crate::Error;

/// A `static` slot for one function's breaker, bulkhead or retry policy.
///
/// Resolution may fail (an invalid configuration); then nothing is kept and the next call
/// tries again, so an instance registered late is still picked up.
#[derive(Debug)]
pub struct Cached<T> {
    cell: OnceLock<T>,
}

impl<T> Cached<T> {
    /// An empty slot.
    pub const fn new() -> Self {
        Self {
            cell: OnceLock::new(),
        }
    }

    /// The kept instance, or the one `init` resolves (which is then kept).
    #[inline]
    pub fn get_or_try_init(&self, init: impl FnOnce() -> Result<T, Error>) -> Result<&T, Error> {
        if let Some(found) = self.cell.get() {
            return Ok(found);
        }
        let made = init()?;
        Ok(self.cell.get_or_init(|| made))
    }
}

impl<T> Cached<T> {
    /// The kept value, or the one `init` makes (which is then kept).
    #[inline]
    pub fn get_or_init(&self, init: impl FnOnce() -> T) -> &T {
        self.cell.get_or_init(init)
    }
}

impl<T> Default for Cached<T> {
    fn default() -> Self {
        Self::new()
    }
}
