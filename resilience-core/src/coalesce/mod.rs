//! Request coalescing: identical requests in flight at the same time share one call
//! ([`Coalescer`], the [`Coalesced`] future). Also known as "single flight".
//!
//! ```
//! use std::sync::Arc;
//! use std::sync::atomic::{AtomicU32, Ordering};
//! use std::time::Duration;
//!
//! use resilience_core::coalesce::Coalescer;
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
//! let coalescer = Coalescer::<String, u64>::builder()
//!     .name("profiles")
//!     .build()
//!     .expect("valid coalescer");
//!
//! // A hundred requests for the same profile arrive while it is being loaded...
//! let loads = Arc::new(AtomicU32::new(0));
//! let mut requests = tokio::task::JoinSet::new();
//! for _ in 0..100 {
//!     let (coalescer, loads) = (coalescer.clone(), Arc::clone(&loads));
//!     requests.spawn(async move {
//!         coalescer
//!             .run("user:7".to_owned(), || async move {
//!                 loads.fetch_add(1, Ordering::Relaxed);
//!                 tokio::time::sleep(Duration::from_millis(50)).await; // the database
//!                 42
//!             })
//!             .await
//!     });
//! }
//! // ...every request gets the answer, and the database was asked once.
//! while let Some(answer) = requests.join_next().await {
//!     assert_eq!(answer.unwrap(), 42);
//! }
//! assert_eq!(loads.load(Ordering::Relaxed), 1);
//! # }
//! ```
//!
//! # Why coalesce
//!
//! When a popular cache entry expires, or a dependency comes back after an outage, many
//! requests for the same thing arrive together, and each would make the same call: the
//! stampede that keeps a recovering dependency down. A coalescer lets the first request
//! for a key make the call (the **leader**) and every identical request that arrives
//! while it runs wait for that call (the **followers**), so the dependency sees one call
//! per key however many requests wait. Once the call is over the key is free: this is
//! not a cache, a later request calls again.
//!
//! # Guarantees
//!
//! - **One call per key in flight.** Every waiter gets the answer: the leader its own,
//!   each follower a clone (`V: Clone`; the last follower gets the stored answer itself).
//! - **A follower's cancellation cancels nobody else.** A dropped follower just leaves.
//! - **A leader's cancellation or panic never hangs the followers.** When the leader's
//!   future is dropped before the call is over (the caller gave up, its task was
//!   aborted, or it panicked while polling the call), the call is abandoned and the
//!   **first follower to look takes over**: it makes the call itself (its own request,
//!   so nothing is lost) and leads the others; the others keep waiting. With no
//!   follower left, the key is free again. So a waiter always ends with an answer, never
//!   with an error the coalescer made up — at the price of a second call when the first
//!   was abandoned. (The alternative, running the call in a task of its own that
//!   outlives its leader, would need `'static + Send` calls and a runtime to spawn on,
//!   and would keep calls nobody waits for.)
//! - **Bounded.** At most [`max_keys`](CoalescerBuilder::max_keys) keys are in flight
//!   (default 10 000); a request for another key while the coalescer is full is not
//!   refused, it makes its own call, uncoalesced. A key is only held while its call runs.
//!
//! # Cost
//!
//! A request takes one lock on the coalescer's map to join and one to finish (a
//! follower: one on its call's state instead). A call nobody joins allocates nothing in
//! the steady state (its shared state is reused); followers each keep a waker.
//!
//! # Telemetry
//!
//! `resilience_coalesce_requests_total{name, role}`: `leader`, `follower`, `takeover`
//! (a follower that made the call after its leader went away) and `bypass` (not
//! coalesced: no key, or no room).

mod flight;
mod future;
mod shared;

use std::fmt;
use std::hash::Hash;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use metrics::Counter;

pub use future::{Coalesced, Make};
pub use shared::SharedError;

use self::flight::Flights;
use crate::config::check;
use crate::telemetry::{coalesce_role, label, metric};
use crate::{ConfigError, Name, Primitive};

/// Shares one call among identical requests in flight; see the [module docs](self).
///
/// `K` is the key that makes requests identical, `V` the call's answer, cloned for each
/// follower.
///
/// # Clone
///
/// Clones share everything (an `Arc`): the keys in flight and the counters.
pub struct Coalescer<K, V> {
    shared: Arc<Shared<K, V>>,
}

struct Shared<K, V> {
    name: Name,
    /// Changed in place by [`Coalescer::reconfigure`]; read when a new key joins.
    max_keys: AtomicUsize,
    flights: Mutex<Flights<K, V>>,
    meters: Meters,
}

struct Meters {
    leader: Counter,
    follower: Counter,
    takeover: Counter,
    bypass: Counter,
}

impl<K, V> Shared<K, V> {
    fn lock(&self) -> MutexGuard<'_, Flights<K, V>> {
        self.flights.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn count(&self, role: &'static str) {
        let m = &self.meters;
        match role {
            coalesce_role::LEADER => &m.leader,
            coalesce_role::FOLLOWER => &m.follower,
            coalesce_role::TAKEOVER => &m.takeover,
            _ => &m.bypass,
        }
        .increment(1);
    }
}

/// Builds a [`Coalescer`]; see [`Coalescer::builder`].
#[must_use]
pub struct CoalescerBuilder<K, V> {
    name: Name,
    max_keys: usize,
    types: PhantomData<fn(K, V)>,
}

impl<K, V> CoalescerBuilder<K, V> {
    /// The instance name, for metric labels. Default `"default"`.
    pub fn name(mut self, name: impl Into<Name>) -> Self {
        self.name = name.into();
        self
    }

    /// The most keys in flight at once; past it, requests for other keys run
    /// uncoalesced. At least 1. Default 10 000.
    pub fn max_keys(mut self, max_keys: usize) -> Self {
        self.max_keys = max_keys;
        self
    }

    /// Checks the options and builds the coalescer.
    ///
    /// Errors: a zero `max_keys`.
    pub fn build(self) -> Result<Coalescer<K, V>, ConfigError> {
        let max_keys = self.check()?;
        let counter = |role: &'static str| {
            metrics::counter!(
                metric::COALESCE_REQUESTS_TOTAL,
                label::NAME => self.name.to_shared_string(),
                label::ROLE => role,
            )
        };
        let meters = Meters {
            leader: counter(coalesce_role::LEADER),
            follower: counter(coalesce_role::FOLLOWER),
            takeover: counter(coalesce_role::TAKEOVER),
            bypass: counter(coalesce_role::BYPASS),
        };
        Ok(Coalescer {
            shared: Arc::new(Shared {
                name: self.name,
                max_keys: AtomicUsize::new(max_keys),
                flights: Mutex::new(Flights::default()),
                meters,
            }),
        })
    }

    /// Checks the options: the `max_keys` to use.
    pub(crate) fn check(&self) -> Result<usize, ConfigError> {
        check::nonzero(Primitive::Coalesce, "max_keys", self.max_keys)
    }
}

impl<K, V> Coalescer<K, V> {
    /// A builder: named `"default"`, at most 10 000 keys in flight.
    pub fn builder() -> CoalescerBuilder<K, V> {
        CoalescerBuilder {
            name: Name::from_static("default"),
            max_keys: 10_000,
            types: PhantomData,
        }
    }

    /// The instance name.
    pub fn name(&self) -> &Name {
        &self.shared.name
    }

    /// The most keys in flight at once.
    pub fn max_keys(&self) -> usize {
        self.shared.max_keys.load(Ordering::Relaxed)
    }

    /// Applies `builder`'s `max_keys` to this coalescer in place, for every clone at
    /// once; it keeps its name (the builder's is not used). Calls in flight are kept,
    /// with their followers: a lower cap applies to new keys, which run uncoalesced
    /// until the keys in flight drop below it.
    ///
    /// ```
    /// use resilience_core::coalesce::Coalescer;
    ///
    /// let coalescer = Coalescer::<String, u64>::builder().max_keys(100).build().unwrap();
    /// coalescer.reconfigure(Coalescer::builder().max_keys(500)).unwrap();
    /// assert_eq!(coalescer.max_keys(), 500);
    /// ```
    ///
    /// # Errors
    ///
    /// The options are invalid, as [`build`](CoalescerBuilder::build) would say; the
    /// coalescer is unchanged then.
    pub fn reconfigure(&self, builder: CoalescerBuilder<K, V>) -> Result<(), ConfigError> {
        let max_keys = builder.check()?;
        self.shared.max_keys.store(max_keys, Ordering::Relaxed);
        Ok(())
    }

    /// Keys with a call in flight now.
    pub fn in_flight(&self) -> usize {
        self.shared.lock().map.len()
    }
}

impl<K: Hash + Eq + Clone, V: Clone> Coalescer<K, V> {
    /// Runs the call for `key` once for every request in flight with that key: `make`
    /// makes it, called only if this request leads (at once) or takes over from a leader
    /// that went away; see [`Coalesced`].
    #[inline]
    pub fn run<M, F>(&self, key: K, make: M) -> Coalesced<K, V, Make<M>>
    where
        M: FnOnce() -> F,
        F: Future<Output = V>,
    {
        Coalesced::new(self, Some(key), Make(make))
    }
}

impl<K, V> Clone for Coalescer<K, V> {
    fn clone(&self) -> Self {
        Self {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<K, V> fmt::Debug for CoalescerBuilder<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CoalescerBuilder")
            .field("name", &self.name)
            .field("max_keys", &self.max_keys)
            .finish()
    }
}

impl<K, V> fmt::Debug for Coalescer<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Coalescer")
            .field("name", &self.shared.name)
            .field("max_keys", &self.max_keys())
            .finish_non_exhaustive()
    }
}
