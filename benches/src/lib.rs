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

/// What Redis says about the commands it ran, for the benches that talk to it.
pub mod redis_stats {
    /// Commands Redis ran since `CONFIG RESETSTAT`, not counting `CONFIG` and `INFO`: those
    /// sent by clients (their round trips: `EVALSHA`, or `EVAL`/`SCRIPT` when a script is
    /// not cached) and those the scripts ran inside Redis (which `commandstats` counts
    /// too).
    ///
    /// # Panics
    ///
    /// When Redis does not answer `INFO`: a bench that needs Redis cannot go on without it.
    pub async fn commands_since_reset(admin: &mut redis::aio::MultiplexedConnection) -> (u64, u64) {
        let info: String = redis::cmd("INFO")
            .arg("commandstats")
            .query_async(admin)
            .await
            .expect("redis answers INFO");
        let (mut sent, mut inside) = (0, 0);
        for line in info.lines() {
            let Some(stat) = line.strip_prefix("cmdstat_") else {
                continue;
            };
            let (name, rest) = stat.split_once(':').unwrap_or((stat, ""));
            let calls = rest
                .split(',')
                .find_map(|field| field.strip_prefix("calls=")?.parse::<u64>().ok())
                .unwrap_or(0);
            match name {
                "config" | "info" => {}
                "evalsha" | "eval" | "script" => sent += calls,
                _ => inside += calls,
            }
        }
        (sent, inside)
    }
}
