//! The error type the test functions return, and a call counter.

use std::sync::atomic::{AtomicU32, Ordering};

use resilience_core::{Error, ErrorKind};

/// An application error: the function's own failure, or a resilience rejection.
#[derive(Debug)]
pub(crate) enum AppError {
    Failed(&'static str),
    Resilience(Error),
}

impl From<Error> for AppError {
    fn from(err: Error) -> Self {
        AppError::Resilience(err)
    }
}

impl AppError {
    /// The kind of the resilience error inside, if that is what this is.
    pub(crate) fn kind(&self) -> Option<ErrorKind> {
        match self {
            AppError::Resilience(err) => Some(err.kind()),
            AppError::Failed(_) => None,
        }
    }

    pub(crate) fn resilience(&self) -> &Error {
        match self {
            AppError::Resilience(err) => err,
            AppError::Failed(what) => panic!("expected a resilience error, got Failed({what})"),
        }
    }
}

/// Counts calls of a test function.
#[derive(Debug, Default)]
pub(crate) struct Calls(AtomicU32);

impl Calls {
    pub(crate) const fn new() -> Self {
        Self(AtomicU32::new(0))
    }

    /// Counts one call; returns the call's number, from 1.
    pub(crate) fn hit(&self) -> u32 {
        self.0.fetch_add(1, Ordering::SeqCst) + 1
    }

    pub(crate) fn get(&self) -> u32 {
        self.0.load(Ordering::SeqCst)
    }
}
