//! [`Flight`]: one shared call and the requests waiting on it; [`Place`]: a request's
//! part in it, given up on drop whatever happens to the request.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::hash::Hash;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};

use super::Shared;
use crate::telemetry::coalesce_role;

/// Spare flights kept for reuse, so that a call nobody joins allocates nothing.
const SPARE: usize = 8;

/// The in-flight keys, and spare flights.
pub(super) struct Flights<K, V> {
    pub(super) map: HashMap<K, Arc<Flight<V>>>,
    spare: Vec<Arc<Flight<V>>>,
}

impl<K, V> Default for Flights<K, V> {
    fn default() -> Self {
        Self {
            map: HashMap::new(),
            spare: Vec::new(),
        }
    }
}

/// One shared call.
pub(super) struct Flight<V> {
    state: Mutex<State<V>>,
}

struct State<V> {
    phase: Phase<V>,
    /// Followers still waiting (joined, not yet answered, not dropped).
    waiting: usize,
    /// Their wakers, by slot; a follower keeps its slot until it leaves.
    wakers: Vec<Option<Waker>>,
    free: Vec<usize>,
}

enum Phase<V> {
    /// A request is making the call.
    Led,
    /// The request making the call went away; the next follower to look makes it.
    Leaderless,
    /// The call is over: the answer, for the followers still waiting.
    Done(Option<V>),
}

impl<V> Flight<V> {
    fn new() -> Self {
        Self {
            state: Mutex::new(State {
                phase: Phase::Led,
                waiting: 0,
                wakers: Vec::new(),
                free: Vec::new(),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<V>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<V> State<V> {
    fn wake_all(&mut self) {
        for waker in self.wakers.iter_mut().filter_map(Option::take) {
            waker.wake();
        }
    }

    /// A follower leaves: its count and its slot.
    fn leave(&mut self, slot: Option<usize>) {
        self.waiting -= 1;
        if let Some(slot) = slot {
            self.wakers[slot] = None;
            self.free.push(slot);
        }
    }
}

/// A request's part in a coalesced call.
pub(super) enum Role<K, V> {
    /// Not coalesced (no key, or no room for one): the request makes its own call.
    Alone,
    /// Making the shared call for `key`.
    Leading { key: K, flight: Arc<Flight<V>> },
    /// Waiting for the call another request makes for `key`.
    Following {
        key: K,
        flight: Arc<Flight<V>>,
        slot: Option<usize>,
    },
    /// Answered.
    Done,
}

/// What a follower finds when it looks.
pub(super) enum Found<V> {
    /// The answer.
    Answer(V),
    /// The request making the call went away: this one makes it now.
    Lead,
}

/// A request's place in a [`Coalescer`](super::Coalescer): decided when it joins, given up
/// when it is dropped (a leader's call passes to a follower, a follower just leaves).
pub(super) struct Place<K: Hash + Eq, V> {
    shared: Arc<Shared<K, V>>,
    role: Role<K, V>,
}

impl<K: Hash + Eq + Clone, V: Clone> Place<K, V> {
    /// Joins the call for `key`: leads it if none is in flight, follows it otherwise;
    /// alone without a key, or when the coalescer holds its maximum of keys.
    pub(super) fn join(shared: Arc<Shared<K, V>>, key: Option<K>) -> Self {
        let role = match key {
            None => Role::Alone,
            Some(key) => {
                let mut guard = shared.lock();
                let flights = &mut *guard;
                let full = flights.map.len() >= shared.max_keys.load(Ordering::Relaxed);
                // One lookup whichever way it goes.
                match flights.map.entry(key.clone()) {
                    Entry::Occupied(found) => {
                        let flight = found.get();
                        flight.lock().waiting += 1;
                        Role::Following {
                            key,
                            flight: Arc::clone(flight),
                            slot: None,
                        }
                    }
                    Entry::Vacant(_) if full => Role::Alone,
                    Entry::Vacant(free) => {
                        let flight = flights
                            .spare
                            .pop()
                            .unwrap_or_else(|| Arc::new(Flight::new()));
                        free.insert(Arc::clone(&flight));
                        Role::Leading { key, flight }
                    }
                }
            }
        };
        shared.count(match &role {
            Role::Leading { .. } => coalesce_role::LEADER,
            Role::Following { .. } => coalesce_role::FOLLOWER,
            _ => coalesce_role::BYPASS,
        });
        Self { shared, role }
    }

    /// Whether this request waits for another's call.
    pub(super) fn is_following(&self) -> bool {
        matches!(self.role, Role::Following { .. })
    }

    /// The call this request made is over with `answer`: the followers get a copy, the
    /// key is free again.
    pub(super) fn complete(&mut self, answer: &V) {
        let Role::Leading { key, flight } = std::mem::replace(&mut self.role, Role::Done) else {
            return;
        };
        let mut flights = self.shared.lock();
        // The entry is this call's while it leads; a takeover keeps the same flight.
        if let Some(other) = flights.map.remove(&key)
            && !Arc::ptr_eq(&other, &flight)
        {
            flights.map.insert(key, other);
        }
        let mut state = flight.lock();
        if state.waiting > 0 {
            state.phase = Phase::Done(Some(answer.clone()));
            state.wake_all();
            return;
        }
        state.phase = Phase::Led;
        drop(state);
        // Nobody joined: the flight goes back to the spares, if nobody holds it.
        if Arc::strong_count(&flight) == 1 && flights.spare.len() < SPARE {
            flights.spare.push(flight);
        }
    }

    /// A follower looks at the call: the answer, a call to make (the leader went away),
    /// or not yet (then woken when there is news).
    pub(super) fn poll_follow(&mut self, cx: &mut Context<'_>) -> Poll<Found<V>> {
        let Role::Following { flight, slot, .. } = &mut self.role else {
            unreachable!("only a follower waits for a call");
        };
        let mut guard = flight.lock();
        let state = &mut *guard;
        match &mut state.phase {
            Phase::Led => {
                let slot = *slot.get_or_insert_with(|| match state.free.pop() {
                    Some(free) => free,
                    None => {
                        state.wakers.push(None);
                        state.wakers.len() - 1
                    }
                });
                match &mut state.wakers[slot] {
                    Some(waker) if waker.will_wake(cx.waker()) => {}
                    other => *other = Some(cx.waker().clone()),
                }
                Poll::Pending
            }
            Phase::Leaderless => {
                state.phase = Phase::Led;
                state.leave(*slot);
                drop(guard);
                let Role::Following { key, flight, .. } =
                    std::mem::replace(&mut self.role, Role::Done)
                else {
                    unreachable!("matched above");
                };
                self.role = Role::Leading { key, flight };
                self.shared.count(coalesce_role::TAKEOVER);
                Poll::Ready(Found::Lead)
            }
            Phase::Done(answer) => {
                let answer = match state.waiting {
                    1 => answer.take(),
                    _ => answer.clone(),
                };
                state.leave(*slot);
                drop(guard);
                self.role = Role::Done;
                let answer = answer.expect("a finished call keeps its answer for every follower");
                Poll::Ready(Found::Answer(answer))
            }
        }
    }
}

impl<K: Hash + Eq, V> Drop for Place<K, V> {
    fn drop(&mut self) {
        match std::mem::replace(&mut self.role, Role::Done) {
            Role::Leading { key, flight } => {
                // The call is abandoned (cancelled, or the caller panicked): a follower
                // makes it, or, with none, the key is free again.
                let mut flights = self.shared.lock();
                let mut state = flight.lock();
                if state.waiting == 0 {
                    if flights
                        .map
                        .get(&key)
                        .is_some_and(|f| Arc::ptr_eq(f, &flight))
                    {
                        flights.map.remove(&key);
                    }
                } else {
                    state.phase = Phase::Leaderless;
                    state.wake_all();
                }
            }
            Role::Following { key, flight, slot } => {
                let mut state = flight.lock();
                state.leave(slot);
                let last = state.waiting == 0 && matches!(state.phase, Phase::Leaderless);
                drop(state);
                if last {
                    // The last follower of an abandoned call: free the key (locks taken
                    // in the usual order, and the state looked at again).
                    let mut flights = self.shared.lock();
                    let state = flight.lock();
                    let still = state.waiting == 0 && matches!(state.phase, Phase::Leaderless);
                    if still
                        && flights
                            .map
                            .get(&key)
                            .is_some_and(|f| Arc::ptr_eq(f, &flight))
                    {
                        flights.map.remove(&key);
                    }
                }
            }
            Role::Alone | Role::Done => {}
        }
    }
}
