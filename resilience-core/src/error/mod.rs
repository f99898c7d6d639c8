//! One error type for every primitive: [`Error`], its [`ErrorKind`] and its context.
//!
//! ```
//! use std::time::Duration;
//! use resilience_core::{BoxError, Error, ErrorKind, Primitive};
//!
//! // A primitive refuses a call and says why, who, and when to come back.
//! let err = Error::new(ErrorKind::CircuitOpen)
//!     .with_primitive(Primitive::CircuitBreaker)
//!     .with_instance("payments")
//!     .with_operation("payments.charge")
//!     .with_retry_after(Duration::from_secs(5));
//! assert!(err.is_rejection());
//! assert_eq!(
//!     err.to_string(),
//!     "circuit breaker is open (operation=payments.charge, circuit_breaker=payments, retry_after=5s)",
//! );
//!
//! // Layers pass errors around as `BoxError`; converting back never wraps twice.
//! let boxed: BoxError = err.into();
//! let back = Error::from(boxed);
//! assert_eq!(back.kind(), ErrorKind::CircuitOpen);
//! assert_eq!(back.instance(), Some("payments"));
//! ```
//!
//! # Why one type
//!
//! Stacking primitives that each return their own error type produces
//! `RetryError<BreakerError<BulkheadError<E>>>`, which callers cannot match on without
//! knowing the stack. Here every primitive returns [`Error`]; the wrapped operation's own
//! error is kept as [`source`](std::error::Error::source) (kind [`ErrorKind::Inner`]) and
//! stays downcastable, and an `Error` that crosses a `BoxError` boundary is recovered, not
//! nested.

mod field;
mod kind;
mod trace;

use std::any::Any;
use std::error::Error as StdError;
use std::fmt;
use std::time::Duration;

pub use field::FieldValue;
pub use kind::{ErrorKind, Primitive};

use crate::{BoxError, Class, Name};

/// The error of every resilience primitive.
///
/// One pointer wide: `Result<T, Error>` costs no more than `Result<T, Box<_>>`. It carries
///
/// - a [`kind`](Error::kind): what went wrong;
/// - whether it is a [rejection](Error::is_rejection): the operation was never called;
/// - context: the [operation](Error::operation), the [primitive](Error::primitive) and its
///   [instance](Error::instance) name, [attempts](Error::attempts) made,
///   [elapsed](Error::elapsed) time, a [`retry_after`](Error::retry_after) hint, the failure's
///   [class](Error::class), and free [fields](Error::with_field);
/// - for [`ErrorKind::Inner`], the operation's own error as
///   [`source`](std::error::Error::source), downcastable with
///   [`downcast_ref`](Error::downcast_ref).
///
/// `Display` is one lowercase line: the kind's description, then the context that is set,
/// as `key=value` pairs in parentheses. The alternate form (`{:#}`) appends the chain of
/// sources after `": "`, so `format!("{err:#}")` tells the whole story in one line.
/// [`record_in`](Error::record_in) puts the same context on a `tracing` span as separate
/// fields.
pub struct Error {
    inner: Box<Inner>,
}

struct Inner {
    kind: ErrorKind,
    rejection: bool,
    operation: Option<Name>,
    primitive: Option<Primitive>,
    instance: Option<Name>,
    attempts: Option<u32>,
    elapsed: Option<Duration>,
    retry_after: Option<Duration>,
    class: Option<Class>,
    detail: Option<Name>,
    fields: Vec<(&'static str, FieldValue)>,
    source: Option<BoxError>,
}

impl Error {
    /// An error of the given kind, with no context yet.
    ///
    /// Whether it is a rejection starts from
    /// [`ErrorKind::is_rejection_by_default`].
    pub fn new(kind: ErrorKind) -> Self {
        Self {
            inner: Box::new(Inner {
                kind,
                rejection: kind.is_rejection_by_default(),
                operation: None,
                primitive: None,
                instance: None,
                attempts: None,
                elapsed: None,
                retry_after: None,
                class: None,
                detail: None,
                fields: Vec::new(),
                source: None,
            }),
        }
    }

    /// Wraps the operation's own error (kind [`ErrorKind::Inner`]).
    ///
    /// If `err` already is an [`Error`] (possibly boxed), it is returned as it is, with its
    /// kind and context, instead of being wrapped a second time.
    pub fn wrap(err: impl Into<BoxError>) -> Self {
        match err.into().downcast::<Error>() {
            Ok(err) => *err,
            Err(other) => Self::new(ErrorKind::Inner).with_source(other),
        }
    }

    /// What went wrong.
    pub fn kind(&self) -> ErrorKind {
        self.inner.kind
    }

    /// `true` when the operation was never called: a primitive protected the caller
    /// (breaker open, bulkhead full, deadline already passed, invalid request, conflicting
    /// idempotent request, store unavailable). `false` when the operation ran and failed,
    /// timed out, or was abandoned mid-call.
    pub fn is_rejection(&self) -> bool {
        self.inner.rejection
    }

    /// Marks that the operation had been called when this error arose (a deadline that
    /// passed mid-call), so [`is_rejection`](Error::is_rejection) is `false`.
    #[must_use]
    pub fn during_call(mut self) -> Self {
        self.inner.rejection = false;
        self
    }

    /// The protected operation's name (`"payments.charge"`), if known.
    pub fn operation(&self) -> Option<&str> {
        self.inner.operation.as_deref()
    }

    /// The primitive that produced this error, if a primitive did.
    pub fn primitive(&self) -> Option<Primitive> {
        self.inner.primitive
    }

    /// The name of the primitive instance that produced this error (`"payments"`).
    pub fn instance(&self) -> Option<&str> {
        self.inner.instance.as_deref()
    }

    /// How many times the operation was called before this error, if counted.
    pub fn attempts(&self) -> Option<u32> {
        self.inner.attempts
    }

    /// Time from the start of the protected call to this error, if measured.
    pub fn elapsed(&self) -> Option<Duration> {
        self.inner.elapsed
    }

    /// How long the caller should wait before trying again, if anyone said.
    ///
    /// An explicit hint ([`with_retry_after`](Error::with_retry_after)) wins; otherwise
    /// the hint of a [`Class::Transient`] class.
    pub fn retry_after(&self) -> Option<Duration> {
        self.inner
            .retry_after
            .or_else(|| self.inner.class.and_then(Class::retry_after))
    }

    /// The failure's class, as decided by the innermost classifier that saw the raw result.
    pub fn class(&self) -> Option<Class> {
        self.inner.class
    }

    /// The class to act on: [`class`](Error::class) if one was decided, else the kind's
    /// [default](ErrorKind::default_class) with this error's
    /// [`retry_after`](Error::retry_after) hint.
    pub fn effective_class(&self) -> Class {
        self.inner
            .class
            .unwrap_or_else(|| self.inner.kind.default_class(self.retry_after()))
    }

    /// A message for whoever sent the request, safe to show them (what to fix, what to
    /// expect). HTTP problem bodies use it as `detail`.
    pub fn detail(&self) -> Option<&str> {
        self.inner.detail.as_deref()
    }

    /// The free key–value context, in the order it was added.
    pub fn fields(&self) -> impl ExactSizeIterator<Item = (&'static str, &FieldValue)> + '_ {
        self.inner.fields.iter().map(|(k, v)| (*k, v))
    }

    /// The value of one free field.
    pub fn field(&self, key: &str) -> Option<&FieldValue> {
        self.inner
            .fields
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v)
    }

    /// The wrapped error, if it is of type `E`.
    ///
    /// Looks at the direct [`source`](std::error::Error::source) only; use
    /// `std::error::Error::source` to walk further.
    pub fn downcast_ref<E: StdError + 'static>(&self) -> Option<&E> {
        self.inner.source.as_deref()?.downcast_ref::<E>()
    }

    /// Takes the wrapped error out, if it is of type `E`; otherwise gives `self` back.
    pub fn downcast<E: StdError + 'static>(mut self) -> Result<E, Self> {
        match self.inner.source.take().map(|s| s.downcast::<E>()) {
            Some(Ok(e)) => Ok(*e),
            Some(Err(s)) => {
                self.inner.source = Some(s);
                Err(self)
            }
            None => Err(self),
        }
    }

    /// Takes the wrapped error out, whatever its type.
    pub fn into_source(self) -> Option<BoxError> {
        self.inner.source
    }

    /// Sets the operation name.
    #[must_use]
    pub fn with_operation(mut self, operation: impl Into<Name>) -> Self {
        self.inner.operation = Some(operation.into());
        self
    }

    /// Sets the operation name unless one is already set: for outer layers enriching an
    /// error that passes through them.
    #[must_use]
    pub fn or_operation(mut self, operation: impl Into<Name>) -> Self {
        if self.inner.operation.is_none() {
            self.inner.operation = Some(operation.into());
        }
        self
    }

    /// Sets the primitive and instance that produced this error unless a primitive is
    /// already set. The origin belongs to whoever created the error: an outer layer that
    /// passes it on keeps it.
    #[must_use]
    pub fn or_origin(mut self, primitive: Primitive, instance: impl Into<Name>) -> Self {
        if self.inner.primitive.is_none() {
            self.inner.primitive = Some(primitive);
            self.inner.instance = Some(instance.into());
        }
        self
    }

    /// Sets the primitive that produced this error.
    #[must_use]
    pub fn with_primitive(mut self, primitive: Primitive) -> Self {
        self.inner.primitive = Some(primitive);
        self
    }

    /// Sets the name of the primitive instance that produced this error.
    #[must_use]
    pub fn with_instance(mut self, instance: impl Into<Name>) -> Self {
        self.inner.instance = Some(instance.into());
        self
    }

    /// Sets how many times the operation was called.
    #[must_use]
    pub fn with_attempts(mut self, attempts: u32) -> Self {
        self.inner.attempts = Some(attempts);
        self
    }

    /// Sets the time from the start of the protected call to this error.
    #[must_use]
    pub fn with_elapsed(mut self, elapsed: Duration) -> Self {
        self.inner.elapsed = Some(elapsed);
        self
    }

    /// Sets how long the caller should wait before trying again.
    #[must_use]
    pub fn with_retry_after(mut self, retry_after: Duration) -> Self {
        self.inner.retry_after = Some(retry_after);
        self
    }

    /// Sets the failure's class.
    #[must_use]
    pub fn with_class(mut self, class: Class) -> Self {
        self.inner.class = Some(class);
        self
    }

    /// Adds a free key–value pair, replacing an earlier value under the same key.
    ///
    /// Keys are `&'static str` so that adding context never allocates a key.
    #[must_use]
    pub fn with_field(mut self, key: &'static str, value: impl Into<FieldValue>) -> Self {
        let value = value.into();
        match self.inner.fields.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = value,
            None => self.inner.fields.push((key, value)),
        }
        self
    }

    /// Sets a message that is safe to show to whoever sent the request; see
    /// [`detail`](Error::detail).
    #[must_use]
    pub fn with_detail(mut self, detail: impl Into<Name>) -> Self {
        self.inner.detail = Some(detail.into());
        self
    }

    /// Sets the wrapped error (the [`source`](std::error::Error::source)).
    ///
    /// An `Error` given as the source is absorbed, not nested: its own source becomes
    /// this error's source, its context fills in whatever this error has not set, and
    /// its kind is kept as the free field `cause` (`cause=timeout`). So marking the last
    /// failure of a retry loop as `RetryBudgetExhausted` keeps the wrapped operation's
    /// error one `downcast_ref` away.
    #[must_use]
    pub fn with_source(mut self, source: impl Into<BoxError>) -> Self {
        match source.into().downcast::<Error>() {
            Ok(absorbed) => self.absorb(*absorbed),
            Err(other) => {
                self.inner.source = Some(other);
                self
            }
        }
    }

    fn absorb(mut self, other: Error) -> Self {
        let other = *other.inner;
        let me = &mut *self.inner;
        me.operation = me.operation.take().or(other.operation);
        if me.primitive.is_none() {
            me.primitive = other.primitive;
            me.instance = me.instance.take().or(other.instance);
        }
        me.attempts = me.attempts.or(other.attempts);
        me.elapsed = me.elapsed.or(other.elapsed);
        me.retry_after = me.retry_after.or(other.retry_after);
        me.class = me.class.or(other.class);
        me.detail = me.detail.take().or(other.detail);
        for (key, value) in other.fields {
            if !me.fields.iter().any(|(k, _)| *k == key) {
                me.fields.push((key, value));
            }
        }
        me.source = other.source;
        self.with_field("cause", other.kind.as_str())
    }

    fn write_context(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = &*self.inner;
        let mut sep = Separator::default();
        if let Some(op) = &inner.operation {
            write!(f, "{}operation={op}", sep.next())?;
        }
        match (inner.primitive, &inner.instance) {
            (Some(p), Some(name)) => write!(f, "{}{p}={name}", sep.next())?,
            (Some(p), None) => write!(f, "{}primitive={p}", sep.next())?,
            (None, Some(name)) => write!(f, "{}instance={name}", sep.next())?,
            (None, None) => {}
        }
        if let Some(n) = inner.attempts {
            write!(f, "{}attempts={n}", sep.next())?;
        }
        if let Some(d) = inner.elapsed {
            write!(f, "{}elapsed={d:?}", sep.next())?;
        }
        if let Some(d) = self.retry_after() {
            write!(f, "{}retry_after={d:?}", sep.next())?;
        }
        if let Some(class) = inner.class {
            write!(f, "{}class={class}", sep.next())?;
        }
        for (k, v) in &inner.fields {
            write!(f, "{}{k}={v}", sep.next())?;
        }
        if sep.started {
            f.write_str(")")?;
        }
        Ok(())
    }
}

/// Writes `" ("` before the first context item and `", "` before each later one.
#[derive(Default)]
struct Separator {
    started: bool,
}

impl Separator {
    fn next(&mut self) -> &'static str {
        if std::mem::replace(&mut self.started, true) {
            ", "
        } else {
            " ("
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.inner.kind.description())?;
        self.write_context(f)?;
        if f.alternate() {
            let mut source = StdError::source(self);
            while let Some(err) = source {
                write!(f, ": {err}")?;
                source = err.source();
            }
        }
        Ok(())
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = &*self.inner;
        let mut d = f.debug_struct("Error");
        d.field("kind", &inner.kind)
            .field("rejection", &inner.rejection);
        if let Some(v) = &inner.operation {
            d.field("operation", v);
        }
        if let Some(v) = &inner.primitive {
            d.field("primitive", v);
        }
        if let Some(v) = &inner.instance {
            d.field("instance", v);
        }
        if let Some(v) = &inner.attempts {
            d.field("attempts", v);
        }
        if let Some(v) = &inner.elapsed {
            d.field("elapsed", v);
        }
        if let Some(v) = &inner.retry_after {
            d.field("retry_after", v);
        }
        if let Some(v) = &inner.class {
            d.field("class", v);
        }
        if let Some(v) = &inner.detail {
            d.field("detail", v);
        }
        if !inner.fields.is_empty() {
            d.field("fields", &inner.fields);
        }
        if let Some(v) = &inner.source {
            d.field("source", v);
        }
        d.finish()
    }
}

impl StdError for Error {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.inner
            .source
            .as_deref()
            .map(|e| e as &(dyn StdError + 'static))
    }
}

impl From<ErrorKind> for Error {
    fn from(kind: ErrorKind) -> Self {
        Self::new(kind)
    }
}

impl From<BoxError> for Error {
    /// Recovers an [`Error`] that was boxed, or wraps any other error as
    /// [`ErrorKind::Inner`]. Never nests an `Error` inside an `Error`.
    fn from(err: BoxError) -> Self {
        Self::wrap(err)
    }
}

/// The [`Error`] inside an operation's own error `err`: `err` itself, or the `Error` a
/// [`BoxError`] holds. The one place where the primitives look for it, to tell a rejection
/// from further in or read the class an inner layer decided.
#[inline]
pub(crate) fn find<E: 'static>(err: &E) -> Option<&Error> {
    let err: &dyn Any = err;
    err.downcast_ref::<Error>()
        .or_else(|| err.downcast_ref::<BoxError>()?.downcast_ref::<Error>())
}

/// Rewrites the [`Error`] inside `err` (as [`find`] sees it) with `add`, in place, so an
/// operation's own error type comes back unchanged but for the context; any other error
/// is left as it is.
pub(crate) fn enrich<E: 'static>(err: &mut E, add: impl FnOnce(Error) -> Error) {
    let err: &mut dyn Any = err;
    let found = if err.is::<Error>() {
        err.downcast_mut::<Error>()
    } else {
        err.downcast_mut::<BoxError>()
            .and_then(|boxed| boxed.downcast_mut::<Error>())
    };
    if let Some(found) = found {
        let taken = std::mem::replace(found, Error::new(ErrorKind::Inner));
        *found = add(taken);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_is_one_pointer_wide() {
        assert_eq!(size_of::<Error>(), size_of::<usize>());
        assert_eq!(size_of::<Result<(), Error>>(), size_of::<usize>());
    }

    #[test]
    fn error_is_send_sync_and_static() {
        fn assert_bounds<T: Send + Sync + 'static>() {}
        assert_bounds::<Error>();
    }

    #[test]
    fn an_error_given_as_source_is_absorbed_not_nested() {
        let last = Error::wrap(std::fmt::Error)
            .with_operation("payments.charge")
            .with_attempts(3)
            .with_field("tenant", "acme");
        let err = Error::new(ErrorKind::RetryBudgetExhausted)
            .with_attempts(4)
            .with_source(last);
        assert_eq!(err.kind(), ErrorKind::RetryBudgetExhausted);
        assert_eq!(err.attempts(), Some(4), "own context wins");
        assert_eq!(
            err.operation(),
            Some("payments.charge"),
            "missing context filled"
        );
        assert_eq!(err.field("tenant"), Some(&FieldValue::from("acme")));
        assert_eq!(err.field("cause"), Some(&FieldValue::from("inner")));
        assert!(err.downcast_ref::<std::fmt::Error>().is_some());
    }

    #[test]
    fn or_setters_keep_what_the_producer_set() {
        let err = Error::new(ErrorKind::CircuitOpen)
            .with_primitive(Primitive::CircuitBreaker)
            .with_instance("payments")
            .or_origin(Primitive::Retry, "outer")
            .or_operation("first")
            .or_operation("second");
        assert_eq!(err.primitive(), Some(Primitive::CircuitBreaker));
        assert_eq!(err.instance(), Some("payments"));
        assert_eq!(err.operation(), Some("first"));
    }

    #[test]
    fn find_and_enrich_see_an_error_itself_or_boxed_and_nothing_else() {
        let mut own = Error::new(ErrorKind::Timeout);
        let mut boxed: BoxError = Error::new(ErrorKind::Timeout).into();
        let mut foreign = std::fmt::Error;
        assert!(find(&own).is_some() && find(&boxed).is_some() && find(&foreign).is_none());
        enrich(&mut own, |e| e.with_attempts(2));
        enrich(&mut boxed, |e| e.with_attempts(3));
        enrich(&mut foreign, |e| e.with_attempts(4));
        assert_eq!(own.attempts(), Some(2));
        assert_eq!(find(&boxed).and_then(Error::attempts), Some(3));
    }

    #[test]
    fn with_field_replaces_an_existing_key() {
        let err = Error::new(ErrorKind::Timeout)
            .with_field("shard", 1_u64)
            .with_field("shard", 2_u64);
        assert_eq!(err.fields().len(), 1);
        assert_eq!(err.field("shard"), Some(&FieldValue::U64(2)));
    }
}
