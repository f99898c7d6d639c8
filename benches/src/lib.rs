//! Benchmarks for the resilience workspace. The benchmarks live in `benches/`; run them
//! with `cargo bench -p resilience-benches`.
