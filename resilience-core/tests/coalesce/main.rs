//! Coalescing: one call per key in flight, under a thousand concurrent requests; what
//! cancellation and panics of leaders and followers do; bounds; errors; telemetry.

mod behaviour;
mod cancellation;
mod stampede;
mod telemetry;
