//! Arguments with retry: each attempt runs the body on its own copy of every owned
//! argument, so those must be `Clone`.

/// Clones an argument for one attempt. Implemented for every `Clone` type; the
/// diagnostic explains the requirement when an argument is not.
#[diagnostic::on_unimplemented(
    message = "`#[resilient(retry(...))]` runs the body once per attempt, so each owned argument is cloned for it, but `{Self}` is not `Clone`",
    label = "this argument is cloned for every attempt",
    note = "take the argument by reference (references are `Copy`), make its type `Clone`, or share it in an `Arc`"
)]
pub trait CloneArg: Sized {
    /// A copy for the next attempt.
    fn clone_arg(&self) -> Self;
}

impl<T: Clone> CloneArg for T {
    #[inline]
    fn clone_arg(&self) -> Self {
        self.clone()
    }
}
