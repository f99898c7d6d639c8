//! Fallback: answer a failure with something else — a value, a value computed from the
//! failure, or the last success for the same key (stale-if-error). [`Fallback`], the
//! [`Guarded`] future.
//!
//! ```
//! use std::time::Duration;
//!
//! use resilience_core::fallback::{Fallback, Used};
//! use resilience_core::{Error, ErrorKind};
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
//! // Prices by product id: when the pricing service fails, the last price seen in the
//! // past minute; failing that, "unknown" (`None`).
//! let prices = Fallback::<Option<u32>, Error, u64>::builder()
//!     .name("prices")
//!     .stale(Duration::from_secs(60))
//!     .value(None)
//!     .build()
//!     .expect("valid fallback");
//!
//! let fresh = prices.run(7, async { Ok(Some(1_250)) }).await;
//! assert_eq!(fresh.unwrap(), Some(1_250));
//!
//! // The service is down: the price of a moment ago answers.
//! let down = || async { Err(Error::new(ErrorKind::CircuitOpen)) };
//! assert_eq!(prices.run(7, down()).await.unwrap(), Some(1_250));
//! // No price was ever seen for product 8: the value answers.
//! assert_eq!(prices.run(8, down()).await.unwrap(), None);
//!
//! // The guarded future says which answered, for a header or a log line.
//! let answered = prices.guard(7, &resilience_core::classify::TransientErrors, async {
//!     Ok::<_, Error>(Err(Error::new(ErrorKind::Timeout)))
//! });
//! assert_eq!(answered.await.fallback, Some(Used::Stale { age: Duration::ZERO }));
//! # }
//! ```
//!
//! # Why fallback
//!
//! Some answers are better than an error page: a product page without personalised
//! recommendations, a price a minute old, an empty list of "people you may know". A
//! fallback turns the failures you choose into such an answer, so the caller degrades
//! instead of failing, and says so (telemetry, a header) so that nobody mistakes a
//! degraded answer for a fresh one.
//!
//! # When it answers
//!
//! A fallback looks at the outcome of the operation — its own result and any
//! primitive's error around it (a timeout, an open breaker, a passed deadline) — with a
//! [`Classify`] (default [`TransientErrors`]: every
//! `Err` fails; for HTTP, `HttpStatus` makes a `503` a failure too). A **success is
//! never replaced**: only an outcome whose class is not `Success` reaches the trigger,
//! which is one of:
//!
//! - the default: a failure of the dependency, class `Transient` or `Permanent` (so not
//!   a `Benign` one: a `404` is an answer, not an outage);
//! - [`on_kinds`](FallbackBuilder::on_kinds): the [`ErrorKind`] of the error (an
//!   operation's own error that is not an [`Error`] is `Inner`);
//! - [`on_classes`](FallbackBuilder::on_classes): the class;
//! - [`on_rejections`](FallbackBuilder::on_rejections): only when the operation was
//!   never called (open breaker, full bulkhead, ...);
//! - [`on`](FallbackBuilder::on): a predicate over the [`Failure`].
//!
//! # What it answers
//!
//! In this order, the first that has an answer:
//!
//! 1. [`stale`](FallbackBuilder::stale): the last success of the same key, if it is at
//!    most `max_age` old (every success of a stale fallback is copied into a bounded
//!    store, [`max_keys`](FallbackBuilder::max_keys), default 1024; when full, expired
//!    entries and then the oldest make room);
//! 2. [`value`](FallbackBuilder::value) (a copy of a fixed value) or
//!    [`with`](FallbackBuilder::with) (a closure of the [`Failure`]).
//!
//! With none (only `stale`, and nothing fresh for the key), the failure goes through as
//! it was.
//!
//! # Telemetry
//!
//! `resilience_fallbacks_total{name, outcome}` counts every triggered fallback by what
//! answered: `value`, `computed`, `stale`, or `unavailable` (nothing could). Each
//! answer also emits an INFO event (target `resilience`) with the class and kind of the
//! failure it replaced. The guarded future's output ([`Answered`]) carries [`Used`],
//! which the tower layer turns into a response header.

mod config;
mod future;
mod stale;

use std::fmt;
use std::hash::Hash;
use std::sync::Arc;
use std::time::Duration;

use metrics::Counter;

pub use config::FallbackBuilder;
pub use future::Guarded;

use self::config::{Answer, Trigger};
use self::stale::Stale;
use crate::classify::TransientErrors;
use crate::error::find;
use crate::outcome::{self, Map, Outcome};
use crate::telemetry::{label, metric, outcome as label_value};
use crate::{Class, Classify, ConfigError, Error, ErrorKind, Name, Primitive};

/// A fallback: which failures it answers, and with what; see the [module docs](self).
///
/// `T` is the answer's type (the operation's success), `E` the operation's error, `K`
/// the key a [stale](FallbackBuilder::stale) answer is looked up by (`()`: one answer for
/// every call).
///
/// # Clone
///
/// Clones share everything (an `Arc`): the stale store, the answers and the counters.
pub struct Fallback<T, E = Error, K = ()> {
    shared: Arc<Shared<T, E, K>>,
}

struct Shared<T, E, K> {
    name: Name,
    trigger: Trigger<T, E>,
    answer: Option<Answer<T, E>>,
    stale: Option<Stale<K, T>>,
    meters: Meters,
}

/// Metric handles, resolved once.
struct Meters {
    value: Counter,
    computed: Counter,
    stale: Counter,
    unavailable: Counter,
}

impl Meters {
    fn new(name: &Name) -> Self {
        let counter = |outcome: &'static str| {
            metrics::counter!(
                metric::FALLBACKS_TOTAL,
                label::NAME => name.to_shared_string(),
                label::OUTCOME => outcome,
            )
        };
        Self {
            value: counter(label_value::VALUE),
            computed: counter(label_value::COMPUTED),
            stale: counter(label_value::STALE),
            unavailable: counter(label_value::UNAVAILABLE),
        }
    }
}

/// What answered in place of a failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Used {
    /// The fixed [`value`](FallbackBuilder::value).
    Value,
    /// The [`with`](FallbackBuilder::with) closure.
    Computed,
    /// The last success for the key, `age` old.
    Stale {
        /// How long ago that success was.
        age: Duration,
    },
}

impl Used {
    /// A stable `snake_case` identifier (`value`, `computed`, `stale`): the `outcome`
    /// label of `resilience_fallbacks_total`, and the value of the tower layer's header.
    pub const fn as_str(self) -> &'static str {
        match self {
            Used::Value => label_value::VALUE,
            Used::Computed => label_value::COMPUTED,
            Used::Stale { .. } => label_value::STALE,
        }
    }
}

/// The outcome of a call through a [`Guarded`] future, and whether a fallback answered.
#[derive(Debug)]
pub struct Answered<T, E> {
    /// The outcome: the operation's, or the fallback's answer (`Ok(Ok(_))`).
    pub outcome: Outcome<T, E>,
    /// What answered, if the fallback did.
    pub fallback: Option<Used>,
}

impl<T, E> Answered<T, E> {
    /// The outcome.
    pub fn into_outcome(self) -> Outcome<T, E> {
        self.outcome
    }
}

/// A failed outcome, as a trigger or an answer sees it.
#[derive(Debug)]
pub struct Failure<'a, T, E> {
    outcome: &'a Outcome<T, E>,
    class: Class,
}

impl<'a, T, E: 'static> Failure<'a, T, E> {
    /// Its class (never `Success`).
    pub fn class(&self) -> Class {
        self.class
    }

    /// Its kind: a primitive's error's, or an operation's error's when it is (or boxes)
    /// an [`Error`]; `Inner` for any other operation error; `None` for an answer its
    /// classifier called a failure (an HTTP `503`).
    pub fn kind(&self) -> Option<ErrorKind> {
        match self.outcome {
            Ok(Ok(_)) => None,
            Ok(Err(err)) => Some(find(err).map_or(ErrorKind::Inner, Error::kind)),
            Err(err) => Some(err.kind()),
        }
    }

    /// Whether the operation was never called (a rejection by a primitive).
    pub fn is_rejection(&self) -> bool {
        match self.outcome {
            Ok(Ok(_)) => false,
            Ok(Err(err)) => find(err).is_some_and(Error::is_rejection),
            Err(err) => err.is_rejection(),
        }
    }

    /// The [`Error`]: a primitive's, or the operation's when it is (or boxes) one.
    pub fn error(&self) -> Option<&'a Error> {
        match self.outcome {
            Ok(Ok(_)) => None,
            Ok(Err(err)) => find(err),
            Err(err) => Some(err),
        }
    }

    /// The operation's own error, if that is what failed.
    pub fn operation_error(&self) -> Option<&'a E> {
        match self.outcome {
            Ok(Err(err)) => Some(err),
            _ => None,
        }
    }

    /// The answer its classifier called a failure (an HTTP `503`), if that is what
    /// failed.
    pub fn response(&self) -> Option<&'a T> {
        match self.outcome {
            Ok(Ok(response)) => Some(response),
            _ => None,
        }
    }

    /// The whole outcome.
    pub fn outcome(&self) -> &'a Outcome<T, E> {
        self.outcome
    }
}

impl<T, E: 'static, K: Hash + Eq> Fallback<T, E, K> {
    /// A builder: answering failures of the dependency (class `Transient` or
    /// `Permanent`), with no answer yet (give one: [`value`](FallbackBuilder::value),
    /// [`with`](FallbackBuilder::with) or [`stale`](FallbackBuilder::stale)).
    pub fn builder() -> FallbackBuilder<T, E, K> {
        FallbackBuilder::new()
    }

    /// The instance name.
    pub fn name(&self) -> &Name {
        &self.shared.name
    }

    /// The stale answers' maximum age, if this fallback keeps them.
    pub fn max_age(&self) -> Option<Duration> {
        self.shared.stale.as_ref().map(Stale::max_age)
    }

    /// The most keys the stale store holds, if this fallback keeps stale answers.
    pub fn max_keys(&self) -> Option<usize> {
        self.shared.stale.as_ref().map(Stale::max_keys)
    }

    /// Applies `builder`'s stale `max_age` and `max_keys` to this fallback in place, for
    /// every clone at once. Only these numbers change: the fallback keeps its name, its
    /// trigger and its answer (closures and types, which code gives at build time; the
    /// builder's are not used), and the stale answers it holds. A shorter `max_age`
    /// applies at the next lookup; a lower `max_keys` holds at once: past it, the
    /// expired entries and then the oldest are dropped.
    ///
    /// ```
    /// use std::time::Duration;
    /// use resilience_core::fallback::Fallback;
    ///
    /// let fallback = Fallback::<u64>::builder()
    ///     .stale(Duration::from_secs(60))
    ///     .build()
    ///     .unwrap();
    /// fallback
    ///     .reconfigure(Fallback::builder().stale(Duration::from_secs(5)).max_keys(64))
    ///     .unwrap();
    /// assert_eq!(fallback.max_age(), Some(Duration::from_secs(5)));
    /// assert_eq!(fallback.max_keys(), Some(64));
    /// ```
    ///
    /// # Errors
    ///
    /// The options are invalid, as [`build`](FallbackBuilder::build) would say; the
    /// builder has [`stale`](FallbackBuilder::stale) and this fallback has not, or the
    /// other way round; or `max_keys` is below the shards the store was built with (one
    /// per 64 keys it was built for, up to 16). The fallback is unchanged then.
    pub fn reconfigure(&self, builder: FallbackBuilder<T, E, K>) -> Result<(), ConfigError> {
        builder.check()?;
        let p = Primitive::Fallback;
        match (&self.shared.stale, builder.stale_options()) {
            (None, (None, _)) => Ok(()),
            (Some(stale), (Some(max_age), max_keys)) => {
                if max_keys < stale.min_keys() {
                    return Err(ConfigError::new(
                        p,
                        "max_keys",
                        format!(
                            "must be at least {} on this fallback (its shards), got {max_keys}",
                            stale.min_keys()
                        ),
                    ));
                }
                stale.reconfigure(max_age, max_keys, tokio::time::Instant::now());
                Ok(())
            }
            _ => Err(ConfigError::new(
                p,
                "stale",
                "cannot be added to or removed from a live fallback: build another one",
            )),
        }
    }

    /// Keys holding a stale answer now (fresh or expired), 0 without `stale`.
    pub fn stale_keys(&self) -> usize {
        self.shared.stale.as_ref().map_or(0, Stale::len)
    }

    /// The fallback's work around `operation` (a future producing an [`Outcome`]), for
    /// `key`: see [`Guarded`].
    #[inline]
    pub fn guard<C, F>(&self, key: K, classifier: C, operation: F) -> Guarded<&Self, K, C, F> {
        Guarded::new(self, key, classifier, operation)
    }

    /// Runs `operation` for `key`, answering its failures as configured; classified with
    /// [`TransientErrors`] (every `Err` fails).
    ///
    /// # Errors
    ///
    /// The operation's error, when the fallback does not answer it.
    #[inline]
    pub fn run<F>(&self, key: K, operation: F) -> impl Future<Output = Result<T, E>>
    where
        F: Future<Output = Result<T, E>>,
    {
        Map::new(
            self.guard(key, TransientErrors, outcome::lift(operation)),
            |answered: Answered<T, E>| match answered.outcome {
                Ok(result) => result,
                Err(_) => unreachable!("a lifted operation fails only with its own error"),
            },
        )
    }

    /// What answers `outcome` (of class `class`, not a success) for `key`, if the trigger
    /// fires and an answer is found; counted and said.
    fn answer(&self, key: Option<&K>, outcome: &Outcome<T, E>, class: Class) -> Option<(T, Used)> {
        let s = &*self.shared;
        let failure = Failure { outcome, class };
        if !s.trigger.fires(&failure) {
            return None;
        }
        let found = s
            .stale
            .as_ref()
            .zip(key)
            .and_then(|(stale, key)| stale.get(key, tokio::time::Instant::now()))
            .map(|(value, age)| (value, Used::Stale { age }))
            .or_else(|| match s.answer.as_ref()? {
                Answer::Value { value, clone } => Some((clone(value), Used::Value)),
                Answer::With(with) => Some((with(&failure), Used::Computed)),
            });
        let m = &s.meters;
        match found {
            None => m.unavailable.increment(1),
            Some((_, Used::Value)) => m.value.increment(1),
            Some((_, Used::Computed)) => m.computed.increment(1),
            Some((_, Used::Stale { .. })) => m.stale.increment(1),
        }
        tracing::event!(
            target: "resilience",
            tracing::Level::INFO,
            fallback.name = s.name.as_str(),
            fallback.answer = found.as_ref().map_or(label_value::UNAVAILABLE, |(_, u)| u.as_str()),
            class = class.as_str(),
            error.kind = failure.kind().map(ErrorKind::as_str),
            "fallback: answering a failure",
        );
        found
    }

    /// Keeps `value`, a success of `key`, if this fallback answers with stale values.
    #[inline]
    fn keep(&self, key: K, value: &T) {
        if let Some(stale) = &self.shared.stale {
            stale.put(key, value, tokio::time::Instant::now());
        }
    }

    /// Whether successes are kept (a stale fallback).
    #[inline]
    fn keeps(&self) -> bool {
        self.shared.stale.is_some()
    }
}

impl<T, E, K> Clone for Fallback<T, E, K> {
    fn clone(&self) -> Self {
        Self {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<T, E, K> fmt::Debug for Fallback<T, E, K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &*self.shared;
        f.debug_struct("Fallback")
            .field("name", &s.name)
            .field("trigger", &s.trigger)
            .field("answer", &s.answer)
            .field("stale", &s.stale.as_ref().map(Stale::max_age))
            .finish()
    }
}

/// Used by [`Guarded`]: the classifier decides, the fallback answers.
fn settle<T, E: 'static, K: Hash + Eq, C: Classify<T, E>>(
    fallback: &Fallback<T, E, K>,
    key: Option<K>,
    classifier: &C,
    outcome: Outcome<T, E>,
) -> Answered<T, E> {
    let class = match &outcome {
        Ok(result) => classifier.classify(result),
        Err(err) => err.effective_class(),
    };
    if class.is_success() {
        if let Some(key) = key
            && fallback.keeps()
            && let Ok(Ok(value)) = &outcome
        {
            fallback.keep(key, value);
        }
        return Answered {
            outcome,
            fallback: None,
        };
    }
    match fallback.answer(key.as_ref(), &outcome, class) {
        Some((value, used)) => Answered {
            outcome: Ok(Ok(value)),
            fallback: Some(used),
        },
        None => Answered {
            outcome,
            fallback: None,
        },
    }
}
