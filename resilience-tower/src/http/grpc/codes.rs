//! The gRPC status codes, as the numbers `grpc-status` carries.
//!
//! ```
//! use resilience_tower::http::grpc::codes;
//!
//! assert_eq!(codes::UNAVAILABLE, 14);
//! assert_eq!(codes::name(codes::RESOURCE_EXHAUSTED), Some("RESOURCE_EXHAUSTED"));
//! ```

/// Not an error.
pub const OK: u8 = 0;
/// The operation was cancelled, typically by the caller.
pub const CANCELLED: u8 = 1;
/// An unknown error.
pub const UNKNOWN: u8 = 2;
/// The client specified an invalid argument.
pub const INVALID_ARGUMENT: u8 = 3;
/// The deadline expired before the operation could complete.
pub const DEADLINE_EXCEEDED: u8 = 4;
/// Some requested entity was not found.
pub const NOT_FOUND: u8 = 5;
/// The entity a client tried to create already exists.
pub const ALREADY_EXISTS: u8 = 6;
/// The caller may not execute the operation.
pub const PERMISSION_DENIED: u8 = 7;
/// Some resource has been exhausted: a quota, a limit, space.
pub const RESOURCE_EXHAUSTED: u8 = 8;
/// The system is not in a state required for the operation.
pub const FAILED_PRECONDITION: u8 = 9;
/// The operation was aborted, typically by a concurrency conflict.
pub const ABORTED: u8 = 10;
/// The operation was attempted past the valid range.
pub const OUT_OF_RANGE: u8 = 11;
/// The operation is not implemented or not supported.
pub const UNIMPLEMENTED: u8 = 12;
/// An internal error: an invariant of the server broke.
pub const INTERNAL: u8 = 13;
/// The service is currently unavailable; most likely transient.
pub const UNAVAILABLE: u8 = 14;
/// Unrecoverable data loss or corruption.
pub const DATA_LOSS: u8 = 15;
/// The request does not have valid authentication credentials.
pub const UNAUTHENTICATED: u8 = 16;

/// The name of a code as gRPC spells it, `None` for a number that is not a code.
pub fn name(code: u8) -> Option<&'static str> {
    const NAMES: [&str; 17] = [
        "OK",
        "CANCELLED",
        "UNKNOWN",
        "INVALID_ARGUMENT",
        "DEADLINE_EXCEEDED",
        "NOT_FOUND",
        "ALREADY_EXISTS",
        "PERMISSION_DENIED",
        "RESOURCE_EXHAUSTED",
        "FAILED_PRECONDITION",
        "ABORTED",
        "OUT_OF_RANGE",
        "UNIMPLEMENTED",
        "INTERNAL",
        "UNAVAILABLE",
        "DATA_LOSS",
        "UNAUTHENTICATED",
    ];
    NAMES.get(usize::from(code)).copied()
}
