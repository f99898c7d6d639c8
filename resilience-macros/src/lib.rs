//! The `#[resilient(...)]` attribute. Use it through `resilience_core::resilient`, which
//! re-exports it and documents every option; the generated code names only
//! `::resilience_core` paths (or the `crate = path` option's).
//!
//! The crate is split by phase, as thiserror's and tracing-attributes' are:
//!
//! - `attr.rs` parses the options (syntax only; every value keeps its span);
//! - `valid.rs` checks what they mean (durations, counts, names, the function's shape) and
//!   reports every problem with a spanned error;
//! - `expand.rs` emits the hardened function.
//!
//! On any error the original function is emitted unchanged next to the `compile_error!`,
//! so that the rest of the crate keeps type-checking.

mod attr;
mod expand;
mod valid;

use proc_macro::TokenStream;

/// Hardens an `async fn`: fallback, deadline, retry, hedge, circuit breaker, bulkhead and
/// attempt timeout, inside a `resilience.call` span. See `resilience_core::resilient` for the options.
#[proc_macro_attribute]
pub fn resilient(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::resilient(args.into(), item.into()).into()
}
