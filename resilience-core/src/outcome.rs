//! [`Outcome`]: what a guarded operation produced, the currency every guarded future
//! takes in and gives back.
//!
//! ```
//! use resilience_core::outcome::{self, Judged, Outcome};
//! use resilience_core::classify::TransientErrors;
//! use resilience_core::{Class, Error, ErrorKind};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! // The operation's own result, lifted: a primitive did not interfere.
//! let ran: Outcome<u32, std::io::Error> = outcome::lift(async { Ok(7) }).await;
//! assert_eq!(ran.unwrap().unwrap(), 7);
//!
//! // A primitive's error sits beside it, never inside the operation's own type.
//! let refused: Outcome<u32, std::io::Error> = Err(Error::new(ErrorKind::BulkheadFull));
//! let judged = Judged::classify(&TransientErrors, refused);
//! assert!(judged.is_rejection());
//! assert_eq!(judged.class, Class::TRANSIENT);
//! # }
//! ```
//!
//! # Why a nested `Result`
//!
//! A primitive wraps an operation that has its own error type `E`, and adds errors of its
//! own: a timeout, a passed deadline, an open breaker, a full bulkhead. Keeping the two
//! apart, as `Result<Result<T, E>, Error>`, is what lets the primitives compose:
//!
//! - a classifier sees the operation's `&Result<T, E>` as it is, so a `match` on your own
//!   error variants (or on an HTTP status inside `Ok`) keeps working;
//! - a breaker tells a rejection by a primitive further in (the dependency was never
//!   called) from a failure of the dependency;
//! - the caller's `E` is built from a primitive's error once, at the very end (through
//!   `E: From<Error>` in `#[resilient]`, or by [`into_result`] for `Result<T, Error>`).
//!
//! Every guarded future of this crate takes a future producing an `Outcome` and produces
//! one: [`circuit_breaker::Guarded`](crate::circuit_breaker::Guarded) (admission and
//! classification), [`bulkhead::Guarded`](crate::bulkhead::Guarded) (a permit),
//! [`timeout::Timeout`](crate::timeout::Timeout) (a limit per attempt) and
//! [`retry::Retrying`](crate::retry::Retrying) (the loop), so they nest in any order.
//! [`lift`] (or [`wrap`]) turns the operation's own future into the innermost one; both
//! cost nothing at run time.
//!
//! # Judged once
//!
//! Retries and breakers act on a [`Class`]. The innermost layer that sees a whole attempt
//! classifies it ([`Judged::classify`]; the breaker does, or [`judge`] when there is no
//! breaker) and the class travels with the outcome as a [`Judged`], so outer layers never
//! classify again.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use pin_project_lite::pin_project;

use crate::error::find;
use crate::{BoxError, Class, Classify, Error};

/// The operation's own result (`Ok`, whatever it holds), or the error of a primitive that
/// stopped it (`Err`); see the [module docs](self).
pub type Outcome<T, E> = Result<Result<T, E>, Error>;

/// The operation's own result as an [`Outcome`] no primitive interfered with.
#[inline(always)]
pub fn lift<F>(operation: F) -> Lift<F> {
    Lift { operation }
}

pin_project! {
    /// The future of [`lift`]: `Result<T, E>` → [`Outcome<T, E>`](Outcome), at no cost.
    #[derive(Debug)]
    #[must_use = "futures do nothing unless polled"]
    pub struct Lift<F> {
        #[pin]
        operation: F,
    }
}

impl<F, T, E> Future for Lift<F>
where
    F: Future<Output = Result<T, E>>,
{
    type Output = Outcome<T, E>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.project().operation.poll(cx).map(Ok)
    }
}

/// [`lift`], with the operation's error turned into an [`Error`] by [`Error::wrap`] (an
/// `Error` passes through, anything else becomes the source of an
/// [`Inner`](crate::ErrorKind::Inner) error): what tower layers do, whose error type is
/// `Error` whatever the wrapped service's is.
#[inline(always)]
pub fn wrap<F>(operation: F) -> Wrap<F> {
    Wrap { operation }
}

pin_project! {
    /// The future of [`wrap`]: `Result<T, E>` → [`Outcome<T, Error>`](Outcome).
    #[derive(Debug)]
    #[must_use = "futures do nothing unless polled"]
    pub struct Wrap<F> {
        #[pin]
        operation: F,
    }
}

impl<F, T, E> Future for Wrap<F>
where
    F: Future<Output = Result<T, E>>,
    E: Into<BoxError>,
{
    type Output = Outcome<T, Error>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let result = ready!(self.project().operation.poll(cx));
        Poll::Ready(Ok(result.map_err(Error::wrap)))
    }
}

/// The outcome as `Result<T, Error>`: the operation's own error through [`Error::wrap`]
/// (an [`Error`] passes through), a primitive's error as it is.
#[inline]
pub fn into_result<T, E: Into<BoxError>>(outcome: Outcome<T, E>) -> Result<T, Error> {
    match outcome {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(err)) => Err(Error::wrap(err)),
        Err(err) => Err(err),
    }
}

/// An attempt's [`Outcome`] with its [`Class`], decided once by the innermost layer that
/// sees the whole attempt; see the [module docs](self#judged-once).
#[derive(Debug)]
pub struct Judged<T, E> {
    /// The attempt's outcome.
    pub outcome: Outcome<T, E>,
    /// What it means for retries and breakers.
    pub class: Class,
}

impl<T, E> Judged<T, E> {
    /// Classifies `outcome`: the operation's own result by `classifier`, a primitive's
    /// error by its [`effective_class`](Error::effective_class).
    #[inline]
    pub fn classify<C: Classify<T, E> + ?Sized>(classifier: &C, outcome: Outcome<T, E>) -> Self {
        let class = match &outcome {
            Ok(result) => classifier.classify(result),
            Err(err) => err.effective_class(),
        };
        Self { outcome, class }
    }

    /// A primitive's error, with its effective class.
    pub fn error(err: Error) -> Self {
        Self {
            class: err.effective_class(),
            outcome: Err(err),
        }
    }

    /// The outcome, for the layers above that no longer need the class.
    #[inline]
    pub fn into_outcome(self) -> Outcome<T, E> {
        self.outcome
    }
}

impl<T, E: 'static> Judged<T, E> {
    /// `true` when the operation was never called: a primitive's error that is a
    /// [rejection](Error::is_rejection), or an operation's error that is (or boxes) one,
    /// such as a full bulkhead further in.
    #[inline]
    pub fn is_rejection(&self) -> bool {
        is_rejection(&self.outcome)
    }
}

/// An [`Outcome`], judged or not: what a layer that only reads the outcome (an
/// [adaptive throttle](crate::throttle)) takes from the layer inside it and gives back,
/// so that it can sit inside a retry loop (over [`Judged`] attempts) or anywhere else
/// (over plain outcomes).
pub trait HasOutcome {
    /// The operation's value.
    type Value;
    /// The operation's own error.
    type Error;

    /// The outcome.
    fn outcome(&self) -> &Outcome<Self::Value, Self::Error>;

    /// A primitive's error as this kind of result.
    fn from_error(error: Error) -> Self;
}

impl<T, E> HasOutcome for Outcome<T, E> {
    type Value = T;
    type Error = E;

    #[inline(always)]
    fn outcome(&self) -> &Outcome<T, E> {
        self
    }

    #[inline]
    fn from_error(error: Error) -> Self {
        Err(error)
    }
}

impl<T, E> HasOutcome for Judged<T, E> {
    type Value = T;
    type Error = E;

    #[inline(always)]
    fn outcome(&self) -> &Outcome<T, E> {
        &self.outcome
    }

    #[inline]
    fn from_error(error: Error) -> Self {
        Judged::error(error)
    }
}

/// [`Judged::is_rejection`] for an outcome not judged yet.
#[inline]
pub(crate) fn is_rejection<T, E: 'static>(outcome: &Outcome<T, E>) -> bool {
    match outcome {
        Ok(Ok(_)) => false,
        Ok(Err(err)) => find(err).is_some_and(Error::is_rejection),
        Err(err) => err.is_rejection(),
    }
}

/// Classifies the outcome of `operation` with `classifier`: the attempt of a retry loop
/// when no circuit breaker judges it.
#[inline(always)]
pub fn judge<F, C, T, E>(classifier: C, operation: F) -> Judge<F, C>
where
    F: Future<Output = Outcome<T, E>>,
    C: Classify<T, E>,
{
    Judge {
        operation,
        classifier,
    }
}

pin_project! {
    /// The future of [`judge`].
    #[derive(Debug)]
    #[must_use = "futures do nothing unless polled"]
    pub struct Judge<F, C> {
        #[pin]
        operation: F,
        classifier: C,
    }
}

impl<F, C, T, E> Future for Judge<F, C>
where
    F: Future<Output = Outcome<T, E>>,
    C: Classify<T, E>,
{
    type Output = Judged<T, E>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let outcome = ready!(this.operation.poll(cx));
        Poll::Ready(Judged::classify(this.classifier, outcome))
    }
}

pin_project! {
    /// `future`'s output through `map`: how the public calls (`CircuitBreaker::call`,
    /// `RetryPolicy::run`, ...) turn a guarded future's outcome into their `Result`
    /// without an `async` block around it.
    pub(crate) struct Map<F, M> {
        #[pin]
        future: F,
        map: M,
    }
}

impl<F, M> Map<F, M> {
    #[inline(always)]
    pub(crate) fn new(future: F, map: M) -> Self {
        Self { future, map }
    }
}

impl<F, M, R> Future for Map<F, M>
where
    F: Future,
    M: FnMut(F::Output) -> R,
{
    type Output = R;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<R> {
        let this = self.project();
        let output = ready!(this.future.poll(cx));
        Poll::Ready((this.map)(output))
    }
}

pin_project! {
    /// A future made by `make` when first polled: keeps the public calls
    /// (`CircuitBreaker::call`, `RetryPolicy::run`, ...) lazy, as futures are, while the
    /// guarded futures they are made of decide when they are made.
    #[project = LazyProj]
    pub(crate) enum Lazy<M, F> {
        Waiting { make: Option<M> },
        Running { #[pin] future: F },
    }
}

impl<M, F> Lazy<M, F> {
    #[inline(always)]
    pub(crate) fn new(make: M) -> Self {
        Lazy::Waiting { make: Some(make) }
    }
}

impl<M, F> Future for Lazy<M, F>
where
    M: FnOnce() -> F,
    F: Future,
{
    type Output = F::Output;

    #[inline]
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        if let LazyProj::Waiting { make } = self.as_mut().project() {
            let make = make.take().expect("`Lazy` polled after completion");
            self.set(Lazy::Running { future: make() });
        }
        match self.project() {
            LazyProj::Running { future } => future.poll(cx),
            LazyProj::Waiting { .. } => unreachable!("made above"),
        }
    }
}
