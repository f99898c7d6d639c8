//! [`FallbackBuilder`]: which failures a [`Fallback`] answers and with what.

use std::fmt;
use std::hash::Hash;
use std::marker::PhantomData;
use std::mem::discriminant;
use std::sync::Arc;
use std::time::Duration;

use super::stale::Stale;
use super::{Failure, Fallback, Meters, Shared};
use crate::config::check;
use crate::{Class, ConfigError, ErrorKind, Name, Primitive};

type Predicate<T, E> = Arc<dyn Fn(&Failure<'_, T, E>) -> bool + Send + Sync>;
type Compute<T, E> = Arc<dyn Fn(&Failure<'_, T, E>) -> T + Send + Sync>;
/// How to copy an answer (`T::clone`, captured where `T: Clone` is known).
type CloneFn<T> = fn(&T) -> T;

/// Which failures a fallback answers.
pub(super) enum Trigger<T, E> {
    Failures,
    Kinds(Box<[ErrorKind]>),
    Classes(Box<[Class]>),
    Rejections,
    When(Predicate<T, E>),
}

impl<T, E: 'static> Trigger<T, E> {
    pub(super) fn fires(&self, failure: &Failure<'_, T, E>) -> bool {
        match self {
            Trigger::Failures => {
                matches!(failure.class(), Class::Transient { .. } | Class::Permanent)
            }
            Trigger::Kinds(kinds) => failure.kind().is_some_and(|k| kinds.contains(&k)),
            Trigger::Classes(classes) => {
                let class = discriminant(&failure.class());
                classes.iter().any(|c| discriminant(c) == class)
            }
            Trigger::Rejections => failure.is_rejection(),
            Trigger::When(when) => when(failure),
        }
    }
}

impl<T, E> fmt::Debug for Trigger<T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Trigger::Failures => f.write_str("Failures"),
            Trigger::Kinds(kinds) => f.debug_tuple("Kinds").field(kinds).finish(),
            Trigger::Classes(classes) => f.debug_tuple("Classes").field(classes).finish(),
            Trigger::Rejections => f.write_str("Rejections"),
            Trigger::When(_) => f.write_str("When(Fn)"),
        }
    }
}

/// What a fallback answers with, besides a stale value.
pub(super) enum Answer<T, E> {
    Value { value: T, clone: CloneFn<T> },
    With(Compute<T, E>),
}

impl<T, E> fmt::Debug for Answer<T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Answer::Value { .. } => "Value",
            Answer::With(_) => "With(Fn)",
        })
    }
}

/// Builds a [`Fallback`]; see [`Fallback::builder`].
#[must_use]
pub struct FallbackBuilder<T, E, K = ()> {
    name: Name,
    trigger: Trigger<T, E>,
    answer: Option<Answer<T, E>>,
    stale: Option<(Duration, CloneFn<T>)>,
    max_keys: usize,
    key: PhantomData<fn(K)>,
}

impl<T, E: 'static, K: Hash + Eq> FallbackBuilder<T, E, K> {
    pub(super) fn new() -> Self {
        Self {
            name: Name::from_static("default"),
            trigger: Trigger::Failures,
            answer: None,
            stale: None,
            max_keys: 1024,
            key: PhantomData,
        }
    }

    /// The instance name, for metric labels and events. Default `"default"`.
    pub fn name(mut self, name: impl Into<Name>) -> Self {
        self.name = name.into();
        self
    }

    /// Answers only failures of these kinds (see [`Failure::kind`]), e.g.
    /// `[ErrorKind::CircuitOpen, ErrorKind::Timeout]`. Replaces any other trigger.
    pub fn on_kinds(mut self, kinds: impl IntoIterator<Item = ErrorKind>) -> Self {
        self.trigger = Trigger::Kinds(kinds.into_iter().collect());
        self
    }

    /// Answers only failures of these classes (compared without their `retry_after`:
    /// `Class::TRANSIENT` stands for every transient failure). `Class::Success` is
    /// ignored: a success is never replaced. Replaces any other trigger.
    pub fn on_classes(mut self, classes: impl IntoIterator<Item = Class>) -> Self {
        self.trigger = Trigger::Classes(classes.into_iter().filter(|c| !c.is_success()).collect());
        self
    }

    /// Answers only rejections: the operation was never called (breaker open, bulkhead
    /// full, deadline already passed, ...). A failure of the dependency itself goes
    /// through. Replaces any other trigger.
    pub fn on_rejections(mut self) -> Self {
        self.trigger = Trigger::Rejections;
        self
    }

    /// Answers the failures for which `when` returns `true` (never a success: `when` is
    /// not asked then). Replaces any other trigger.
    pub fn on<F>(mut self, when: F) -> Self
    where
        F: Fn(&Failure<'_, T, E>) -> bool + Send + Sync + 'static,
    {
        self.trigger = Trigger::When(Arc::new(when));
        self
    }

    /// Answers with a copy of `value`. Replaces [`with`](Self::with).
    pub fn value(mut self, value: T) -> Self
    where
        T: Clone,
    {
        self.answer = Some(Answer::Value {
            value,
            clone: T::clone,
        });
        self
    }

    /// Answers with what `with` makes of the failure. Replaces [`value`](Self::value).
    pub fn with<F>(mut self, with: F) -> Self
    where
        F: Fn(&Failure<'_, T, E>) -> T + Send + Sync + 'static,
    {
        self.answer = Some(Answer::With(Arc::new(with)));
        self
    }

    /// Answers with the last success of the same key if it is at most `max_age` old
    /// (stale-if-error); when there is none, with [`value`](Self::value) or
    /// [`with`](Self::with) if set. Every success is then copied into a store of at most
    /// [`max_keys`](Self::max_keys) keys.
    pub fn stale(mut self, max_age: Duration) -> Self
    where
        T: Clone,
    {
        self.stale = Some((max_age, T::clone));
        self
    }

    /// The most keys the stale store holds; when full, expired entries and then the
    /// oldest make room. Default 1024.
    pub fn max_keys(mut self, max_keys: usize) -> Self {
        self.max_keys = max_keys;
        self
    }

    /// Checks the options and builds the fallback.
    ///
    /// Errors: no answer at all (neither `value`, `with` nor `stale`); an empty list of
    /// kinds or classes; a zero `max_age` or `max_keys`.
    pub fn build(self) -> Result<Fallback<T, E, K>, ConfigError> {
        self.check()?;
        let stale = self
            .stale
            .map(|(max_age, clone)| Stale::new(max_age, self.max_keys, clone));
        let meters = Meters::new(&self.name);
        Ok(Fallback {
            shared: Arc::new(Shared {
                name: self.name,
                trigger: self.trigger,
                answer: self.answer,
                stale,
                meters,
            }),
        })
    }
}

impl<T, E, K> FallbackBuilder<T, E, K> {
    /// Checks the options, as [`build`](Self::build) does.
    pub(crate) fn check(&self) -> Result<(), ConfigError> {
        let p = Primitive::Fallback;
        if self.answer.is_none() && self.stale.is_none() {
            return Err(ConfigError::new(
                p,
                "answer",
                "is missing: set `value`, `with` or `stale`",
            ));
        }
        match &self.trigger {
            Trigger::Kinds(kinds) if kinds.is_empty() => {
                return Err(ConfigError::new(
                    p,
                    "on_kinds",
                    "must name at least one kind",
                ));
            }
            Trigger::Classes(classes) if classes.is_empty() => {
                return Err(ConfigError::new(
                    p,
                    "on_classes",
                    "must name at least one class other than `Success`",
                ));
            }
            _ => {}
        }
        if let Some((max_age, _)) = self.stale {
            check::nonzero_duration(p, "stale", max_age)?;
            check::nonzero(p, "max_keys", self.max_keys)?;
        }
        Ok(())
    }

    /// The stale answers' maximum age, if any, and the stale store's `max_keys`.
    pub(crate) fn stale_options(&self) -> (Option<Duration>, usize) {
        (self.stale.map(|(max_age, _)| max_age), self.max_keys)
    }

    /// Replaces the maximum age of a builder with [`stale`](Self::stale); `None` without.
    #[cfg(feature = "serde")]
    pub(crate) fn stale_max_age(mut self, max_age: Duration) -> Option<Self> {
        let (_, clone) = self.stale?;
        self.stale = Some((max_age, clone));
        Some(self)
    }
}

impl<T, E, K> fmt::Debug for FallbackBuilder<T, E, K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FallbackBuilder")
            .field("name", &self.name)
            .field("trigger", &self.trigger)
            .field("answer", &self.answer)
            .field("stale", &self.stale.map(|(max_age, _)| max_age))
            .field("max_keys", &self.max_keys)
            .finish()
    }
}
