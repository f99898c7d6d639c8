//! The idempotency stores: one behaviour suite run against every store, plus what is
//! particular to each (capacity for memory, outages for Redis) and a model-based property
//! test of the memory store.

#[macro_use]
mod suite;
#[cfg(feature = "redis")]
mod failover;
mod memory;
mod model;
#[cfg(feature = "redis")]
mod redis;
