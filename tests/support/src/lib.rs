//! What the workspace's test binaries share, so that none of them includes another's
//! files by path:
//!
//! - [`redis`]: the URL of a Redis to test against, or a skip that says why;
//! - [`events`]: tracing events captured by a subscriber each test installs for itself;
//! - [`http`] (feature `http`): a real server and client on 127.0.0.1, and the checks
//!   every problem+json answer must pass;
//! - `grpc` (feature `grpc`): a raw-bytes tonic codec, and a gRPC answer with its status
//!   in the trailers;
//! - [`prometheus`]: a strict reader of the Prometheus text format, for `/metrics` checks.

pub mod events;
#[cfg(feature = "grpc")]
pub mod grpc;
#[cfg(feature = "http")]
pub mod http;
pub mod prometheus;
pub mod redis;
