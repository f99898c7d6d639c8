//! Benchmarks for the resilience workspace. The benchmarks live in `benches/`; run them
//! with `cargo bench -p resilience-benches`.

pub mod compare;
pub mod macros;
pub mod peers;

/// Counting allocations: each bench binary installs the counter as its global allocator
/// (`#[global_allocator] static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;`)
/// and measures a region with [`allocations_in`](alloc::allocations_in).
pub mod alloc {
    pub use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

    /// Heap allocations made while running `f` `iterations` times, divided by `iterations`
    /// (rounded up, so one allocation in a thousand calls still shows as 1).
    ///
    /// Counts every thread's allocations, so run it with no other work in flight.
    pub fn allocations_in<T>(
        alloc: &'static StatsAlloc<std::alloc::System>,
        iterations: u64,
        mut f: impl FnMut() -> T,
    ) -> u64 {
        let region = Region::new(alloc);
        for _ in 0..iterations {
            std::hint::black_box(f());
        }
        let stats = region.change();
        (stats.allocations as u64).div_ceil(iterations.max(1))
    }
}
