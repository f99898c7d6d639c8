//! The `#[resilient(...)]` attribute. Use it through `resilience_core::resilient`, which
//! re-exports it; the generated code names only `::resilience_core` paths.
//!
//! Options supported today:
//!
//! - `name = "payments.charge"`: the operation name, recorded as the `operation` field of
//!   the call's span (default: the function's module path and name);
//! - `crate = path`: where `resilience_core` is, when it is re-exported under another name.
//!
//! The function must be an `async fn` returning `Result<T, E>`. The body runs inside a
//! `resilience.call` span carrying the operation name. Misuse is a compile error pointing
//! at the offending tokens, and the function is still emitted so that the rest of the
//! crate keeps type-checking. The options of the primitives (retry, circuit breaker,
//! bulkhead, deadline, timeout) arrive with the primitives.

mod attr;
mod expand;
mod valid;

use proc_macro::TokenStream;

/// Hardens an `async fn`: runs its body inside a `resilience.call` span for the named
/// operation. See the `resilience_core` documentation for examples.
#[proc_macro_attribute]
pub fn resilient(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::resilient(args.into(), item.into()).into()
}
