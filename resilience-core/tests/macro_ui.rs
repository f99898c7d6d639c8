//! Compile-time behaviour of `#[resilient]`: what compiles, and the message for each misuse.
//!
//! Snapshots are in `tests/ui/fail/*.stderr`; after an intended change to a message,
//! regenerate them with `TRYBUILD=overwrite cargo test -p resilience-core --test macro_ui`.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/pass/*.rs");
    t.compile_fail("tests/ui/fail/*.rs");
}
