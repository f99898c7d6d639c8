//! [`SharedError`]: an [`Error`] that every waiter of a coalesced call gets.

use std::fmt;
use std::sync::Arc;

use crate::Error;

/// An [`Error`] shared by the waiters of one coalesced call (an `Error` is not `Clone`:
/// its source is any error). Share it as the call's answer, and let each waiter take its
/// [`into_error`](Self::into_error).
///
/// ```
/// use resilience_core::coalesce::SharedError;
/// use resilience_core::{Error, ErrorKind};
///
/// let shared = SharedError::new(
///     Error::wrap(std::io::Error::other("connection reset")).with_attempts(2),
/// );
/// let follower = shared.clone().into_error();
/// assert_eq!(follower.kind(), ErrorKind::Inner);
/// assert_eq!(follower.attempts(), Some(2));
/// assert_eq!(format!("{follower:#}"), "operation failed (attempts=2): connection reset");
/// // The last holder gets the error itself, its source still downcastable.
/// let leader = shared.into_error();
/// assert!(leader.downcast_ref::<std::io::Error>().is_some());
/// ```
#[derive(Clone, Debug)]
pub struct SharedError(Arc<Error>);

impl SharedError {
    /// Shares `err`.
    pub fn new(err: Error) -> Self {
        Self(Arc::new(err))
    }

    /// This waiter's error: the error itself if no one else holds it any more; otherwise
    /// a copy with the same kind, rejection, context and fields, whose source carries the
    /// original source's message (but is no longer downcastable to its type).
    pub fn into_error(self) -> Error {
        Arc::try_unwrap(self.0).unwrap_or_else(|shared| copy(&shared))
    }
}

impl From<Error> for SharedError {
    fn from(err: Error) -> Self {
        Self::new(err)
    }
}

/// The source of a copied error: the original source chain, as text.
#[derive(Debug)]
struct Copied(String);

impl fmt::Display for Copied {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Copied {}

#[cold]
fn copy(err: &Error) -> Error {
    let mut copy = Error::new(err.kind());
    if let Some(operation) = err.operation() {
        copy = copy.with_operation(operation.to_owned());
    }
    if let Some(primitive) = err.primitive() {
        copy = copy.with_primitive(primitive);
    }
    if let Some(instance) = err.instance() {
        copy = copy.with_instance(instance.to_owned());
    }
    if let Some(attempts) = err.attempts() {
        copy = copy.with_attempts(attempts);
    }
    if let Some(elapsed) = err.elapsed() {
        copy = copy.with_elapsed(elapsed);
    }
    if let Some(retry_after) = err.retry_after() {
        copy = copy.with_retry_after(retry_after);
    }
    if let Some(class) = err.class() {
        copy = copy.with_class(class);
    }
    if let Some(detail) = err.detail() {
        copy = copy.with_detail(detail.to_owned());
    }
    for (key, value) in err.fields() {
        copy = copy.with_field(key, value.clone());
    }
    if copy.is_rejection() && !err.is_rejection() {
        copy = copy.during_call();
    }
    if let Some(source) = std::error::Error::source(err) {
        let mut text = source.to_string();
        let mut next = source.source();
        while let Some(err) = next {
            text.push_str(": ");
            text.push_str(&err.to_string());
            next = err.source();
        }
        copy = copy.with_source(Copied(text));
    }
    copy
}
