//! The shared state of a breaker and every decision it makes: admit, record, transition.

use std::sync::{Arc, PoisonError};

use arc_swap::ArcSwap;

use crate::sync::Mutex;
use crate::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering::*};
use std::time::Duration;

use tokio::time::Instant;

use super::State;
use super::config::{Config, SlidingWindow};
use super::state::Word;
use super::telemetry::{Judged, Telemetry};
use super::window::{CountWindow, Outcome, TimeWindow, Totals, Window};
use crate::durations::nanos;
use crate::{Error, ErrorKind, Primitive};

/// What a permit remembers: the state word it was admitted under (its epoch) and, when
/// slow calls are measured, when it started (nanoseconds since the clock base).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Ticket {
    pub(crate) word: Word,
    pub(crate) start: u64,
}

pub(crate) struct Shared {
    word: AtomicU64,
    /// The configuration and the window it sizes, swapped whole by
    /// [`reconfigure`](Self::reconfigure); a call reads it with one lock-free load.
    tuned: ArcSwap<Tuned>,
    /// Whether slow calls are measured (a copy of `tuned`'s, so that admission reads one
    /// plain atomic and not the whole configuration).
    measures_slow: AtomicBool,
    /// Whether a plain success would change nothing: the current count window holds only
    /// successes and no run of failures is under way. Set by `mark_clean`, cleared before
    /// and after anything that dirties the window (a failure, a slow call, a reset, a new
    /// window). It may read `false` when the window is clean (a success then takes the
    /// slow path, exactly); it reads `true` on a dirty window only during such a race,
    /// when one success may go unrecorded (the window slides one call later).
    clean: AtomicBool,
    consecutive: AtomicU32,
    base: Instant,
    /// While open: when half-open may begin (ns since `base`). Written before the
    /// transition's release store, read after an acquire load of `word`.
    open_until: AtomicU64,
    entered_at: AtomicU64,
    /// Openings since the breaker last closed, for the open-duration growth.
    trips: AtomicU32,
    /// Serialises transitions (cold path only): admission and recording never take it.
    transition: Mutex<()>,
    pub(crate) telemetry: Telemetry,
}

impl Shared {
    pub(crate) fn new(mut config: Config) -> Self {
        let window = Arc::new(new_window(config.window));
        let telemetry = Telemetry::new(config.name.clone(), config.hook.take());
        Self {
            word: AtomicU64::new(Word::new(State::Closed, 0).0),
            measures_slow: AtomicBool::new(config.slow.is_some()),
            clean: AtomicBool::new(false),
            tuned: ArcSwap::from_pointee(Tuned { config, window }),
            consecutive: AtomicU32::new(0),
            base: Instant::now(),
            open_until: AtomicU64::new(0),
            entered_at: AtomicU64::new(0),
            trips: AtomicU32::new(0),
            transition: Mutex::new(()),
            telemetry,
        }
    }

    /// Replaces the configuration in place. The state, its epoch, the probes in flight and
    /// the open period under way are kept; the window keeps its counts unless its shape
    /// (kind, size, duration or buckets) changed, when the new one starts empty. The
    /// name and the state-change hook stay those the breaker was built with.
    pub(crate) fn reconfigure(&self, config: Config) {
        let _guard = self
            .transition
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let old = self.tuned.load();
        let window = if old.config.window == config.window {
            Arc::clone(&old.window)
        } else {
            Arc::new(new_window(config.window))
        };
        if old.config.consecutive_failures != config.consecutive_failures {
            self.consecutive.store(0, Relaxed);
        }
        self.measures_slow.store(config.slow.is_some(), Relaxed);
        self.clean.store(false, SeqCst);
        self.tuned.store(Arc::new(Tuned { config, window }));
        self.clean.store(false, SeqCst);
    }

    /// Nanoseconds since the clock base, by tokio's clock.
    pub(crate) fn now(&self) -> u64 {
        nanos(Instant::now().saturating_duration_since(self.base))
    }

    #[inline]
    pub(crate) fn word(&self) -> Word {
        Word(self.word.load(Acquire))
    }

    /// Admits a call or says why not. Closed: one atomic load (plus a clock read when
    /// slow calls are measured).
    #[inline]
    pub(crate) fn acquire(&self) -> Result<Ticket, Error> {
        let word = self.word();
        if word.state() == State::Closed {
            let start = if self.measures_slow.load(Relaxed) {
                self.now()
            } else {
                0
            };
            return Ok(Ticket { word, start });
        }
        self.acquire_slow(word)
    }

    #[cold]
    fn acquire_slow(&self, mut word: Word) -> Result<Ticket, Error> {
        let tuned = self.tuned.load();
        let config = &tuned.config;
        loop {
            match word.state() {
                State::Closed | State::Disabled => {
                    let start = if config.slow.is_some() { self.now() } else { 0 };
                    return Ok(Ticket { word, start });
                }
                State::ForcedOpen => return Err(self.reject(None)),
                State::Open => {
                    let now = self.now();
                    let until = self.open_until.load(Relaxed);
                    if now < until {
                        return Err(self.reject(Some(Duration::from_nanos(until - now))));
                    }
                    self.transition(word, State::HalfOpen);
                }
                State::HalfOpen => {
                    let (in_flight, successes) = (word.in_flight(), word.successes());
                    if in_flight + successes < config.half_open_calls {
                        let next = word.with_probes(in_flight + 1, successes);
                        match self
                            .word
                            .compare_exchange_weak(word.0, next.0, AcqRel, Acquire)
                        {
                            Ok(_) => {
                                let start = if config.slow.is_some() { self.now() } else { 0 };
                                return Ok(Ticket { word, start });
                            }
                            Err(actual) => {
                                word = Word(actual);
                                continue;
                            }
                        }
                    }
                    let now = self.now();
                    let since = now.saturating_sub(self.entered_at.load(Relaxed));
                    if since < config.max_half_open_nanos {
                        return Err(self.reject(None));
                    }
                    self.transition(word, State::Open);
                }
            }
            word = self.word();
        }
    }

    fn reject(&self, retry_after: Option<Duration>) -> Error {
        self.telemetry.rejected();
        let err = Error::new(ErrorKind::CircuitOpen)
            .with_primitive(Primitive::CircuitBreaker)
            .with_instance(self.telemetry.name());
        match retry_after {
            Some(d) => err.with_retry_after(d),
            None => err,
        }
    }

    /// Records how an admitted call ended.
    #[inline(always)]
    pub(crate) fn complete(&self, ticket: Ticket, judged: Judged) {
        self.telemetry.count(judged);
        match ticket.word.state() {
            State::Closed => match judged {
                Judged::Success => self.record_closed(ticket, false),
                Judged::Failure | Judged::TimedOut => self.record_closed(ticket, true),
                _ => {}
            },
            State::HalfOpen => self.record_probe(ticket, judged),
            _ => {}
        }
    }

    /// The timeout of the call admitted with `ticket`: the probe timeout, for a
    /// half-open probe when one is set.
    #[inline]
    pub(crate) fn probe_timeout(&self, ticket: Ticket) -> Option<Duration> {
        match ticket.word.state() {
            State::HalfOpen => self.tuned.load().config.probe_timeout,
            _ => None,
        }
    }

    /// The error of a probe that took longer than `limit`: a transient `Timeout` from
    /// this breaker, so the probe counts as failed.
    #[cold]
    pub(crate) fn probe_timed_out(&self, limit: Duration) -> Error {
        Error::new(ErrorKind::Timeout)
            .with_primitive(Primitive::CircuitBreaker)
            .with_instance(self.telemetry.name())
            .with_elapsed(limit)
            .with_field("probe_timeout", limit)
    }

    /// A permit given back without an outcome, on purpose.
    #[inline(never)]
    pub(crate) fn cancel(&self, ticket: Ticket) {
        self.complete(ticket, Judged::Cancelled);
    }

    /// A permit dropped without an outcome: while a panic unwinds (the call panicked: a
    /// failure), once the ambient deadline has passed (the call was cut off by it: a
    /// timeout, which is a failure too), or otherwise (the caller gave up: cancelled, not
    /// counted).
    #[inline(never)]
    pub(crate) fn dropped(&self, ticket: Ticket) {
        let judged = if std::thread::panicking() {
            Judged::Failure
        } else if crate::Deadline::current().is_some_and(crate::Deadline::is_expired) {
            Judged::TimedOut
        } else {
            Judged::Cancelled
        };
        self.complete(ticket, judged);
    }

    #[inline]
    fn is_slow(&self, config: &Config, ticket: Ticket, now: &mut Option<u64>) -> bool {
        match config.slow {
            Some((threshold, _)) => {
                let t = *now.get_or_insert_with(|| self.now());
                t.saturating_sub(ticket.start) >= threshold
            }
            None => false,
        }
    }

    /// Records a closed-state outcome. The steady state of a healthy dependency, a success
    /// into a count window that holds only successes, changes nothing (every slot is a
    /// success, so which one it replaces does not matter) and costs two atomic loads: the
    /// `clean` flag says so without reading the (swappable) configuration.
    #[inline]
    fn record_closed(&self, ticket: Ticket, failure: bool) {
        if !failure && self.clean.load(Acquire) && !self.measures_slow.load(Relaxed) {
            return;
        }
        self.record_closed_slow(ticket, failure);
    }

    #[inline(never)]
    fn record_closed_slow(&self, ticket: Ticket, failure: bool) {
        let tuned = self.tuned.load();
        let mut now = None;
        let slow = self.is_slow(&tuned.config, ticket, &mut now);
        if failure || slow {
            // Cleared before and after recording: a racing `mark_clean` that saw the
            // window clean before this outcome landed cannot leave the flag set.
            self.clean.store(false, SeqCst);
            self.record_closed_outcome(&tuned, ticket, Outcome { failure, slow }, now);
            self.clean.store(false, SeqCst);
        } else {
            if !self.window_is_clean(&tuned) {
                self.record_closed_outcome(&tuned, ticket, Outcome { failure, slow }, now);
            }
            self.mark_clean(&tuned);
        }
    }

    /// Whether recording a plain success into `tuned`'s window would change nothing: a
    /// count window of successes only, and no run of failures under way.
    fn window_is_clean(&self, tuned: &Tuned) -> bool {
        matches!(&*tuned.window, Window::Count(w) if w.holds_only_successes())
            && (tuned.config.consecutive_failures.is_none() || self.consecutive.load(Relaxed) == 0)
    }

    /// Sets `clean` when the window is clean, then checks again (and that the window is
    /// still the one in force): whoever dirtied it meanwhile clears the flag after
    /// recording, and this second look clears it if that came first.
    fn mark_clean(&self, tuned: &Arc<Tuned>) {
        if !self.window_is_clean(tuned) {
            return;
        }
        self.clean.store(true, SeqCst);
        if !self.window_is_clean(tuned) || !Arc::ptr_eq(&self.tuned.load(), tuned) {
            self.clean.store(false, SeqCst);
        }
    }

    fn record_closed_outcome(
        &self,
        tuned: &Tuned,
        ticket: Ticket,
        outcome: Outcome,
        mut now: Option<u64>,
    ) {
        let current = Word(self.word.load(Relaxed));
        if !current.same_epoch(ticket.word) {
            return; // The breaker moved on while the call ran.
        }
        let Outcome { failure, .. } = outcome;
        let totals = match &*tuned.window {
            Window::Count(w) => w.record(outcome),
            Window::Time(w) => Some(w.record(outcome, *now.get_or_insert_with(|| self.now()))),
        };
        let mut trip = false;
        if let Some(limit) = tuned.config.consecutive_failures {
            if failure {
                trip = self.consecutive.fetch_add(1, Relaxed).saturating_add(1) >= limit;
            } else if self.consecutive.load(Relaxed) != 0 {
                self.consecutive.store(0, Relaxed);
            }
        }
        if let Some(Totals {
            calls,
            failures,
            slow,
        }) = totals
        {
            trip |= tuned.config.rate_tripped(calls, failures, slow);
        }
        if trip {
            self.transition(current, State::Open);
        }
    }

    /// Records a half-open probe's outcome and gives its slot back. Slots count probes in
    /// flight whatever episode admitted them, so a probe of an episode that has ended (it
    /// outlived a re-opening, or `open_duration`) still holds its slot until it ends, and
    /// half-open never has more than `half_open_calls` probes out at once. Only a probe of
    /// the current episode moves the state.
    #[cold]
    fn record_probe(&self, ticket: Ticket, judged: Judged) {
        let tuned = self.tuned.load();
        let failed = match judged {
            Judged::Failure | Judged::TimedOut => true,
            Judged::Success => self.is_slow(&tuned.config, ticket, &mut None),
            _ => false,
        };
        let mut word = self.word();
        if failed && word.same_epoch(ticket.word) {
            // Re-open first and give the slot back after: the count is never too low.
            self.transition(word, State::Open);
            word = self.word();
        }
        loop {
            let current = word.same_epoch(ticket.word);
            let succeeded = current && !failed && judged == Judged::Success;
            let successes = word.successes() + u32::from(succeeded);
            let next = word.with_probes(word.in_flight().saturating_sub(1), successes);
            match self
                .word
                .compare_exchange_weak(word.0, next.0, AcqRel, Acquire)
            {
                Ok(_) => {
                    if succeeded && successes >= tuned.config.half_open_calls {
                        self.transition(next, State::Closed);
                    }
                    return;
                }
                Err(actual) => word = Word(actual),
            }
        }
    }

    /// Moves from the epoch of `expected` to `to`. Returns `false` if the breaker already
    /// left that epoch. A transition into the current state (a reset while closed) clears
    /// the window and starts a new epoch but reports no change.
    #[cold]
    pub(crate) fn transition(&self, expected: Word, to: State) -> bool {
        let guard = self
            .transition
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let mut current = self.word();
        if !current.same_epoch(expected) {
            return false;
        }
        let from = current.state();
        let tuned = self.tuned.load();
        let now = self.now();
        let mut open_for = None;
        match to {
            State::Open => {
                let trips = if from == State::Closed {
                    1
                } else {
                    self.trips.load(Relaxed).saturating_add(1)
                };
                self.trips.store(trips, Relaxed);
                let duration = tuned.config.open_duration_for(trips);
                self.open_until
                    .store(now.saturating_add(nanos(duration)), Relaxed);
                open_for = Some(duration);
            }
            State::Closed => {
                self.clean.store(false, SeqCst);
                tuned.window.reset();
                self.clean.store(false, SeqCst);
                self.consecutive.store(0, Relaxed);
                self.trips.store(0, Relaxed);
            }
            _ => {}
        }
        self.entered_at.store(now, Relaxed);
        // Only probe counters can change under the lock, so this loop ends in success. The
        // probes in flight carry over into the next state (see `record_probe`).
        while let Err(actual) =
            self.word
                .compare_exchange_weak(current.0, current.next(to).0, AcqRel, Acquire)
        {
            current = Word(actual);
        }
        self.telemetry.set_state(to);
        drop(guard);
        if from != to {
            self.telemetry.transitioned(from, to, open_for);
        }
        true
    }

    /// Moves to `to` from whatever state the breaker is in.
    pub(crate) fn force(&self, to: State) {
        while !self.transition(self.word(), to) {}
    }

    pub(crate) fn totals(&self) -> Totals {
        self.tuned.load().window.totals(|| self.now())
    }

    pub(crate) fn time_in_state(&self) -> Duration {
        Duration::from_nanos(self.now().saturating_sub(self.entered_at.load(Relaxed)))
    }

    /// While open: the time left before half-open may begin.
    pub(crate) fn open_remaining(&self) -> Option<Duration> {
        (self.word().state() == State::Open)
            .then(|| Duration::from_nanos(self.open_until.load(Relaxed).saturating_sub(self.now())))
    }
}

/// A configuration and the window it sizes, swapped together.
pub(crate) struct Tuned {
    pub(crate) config: Config,
    window: Arc<Window>,
}

fn new_window(spec: SlidingWindow) -> Window {
    match spec {
        SlidingWindow::Count(n) => Window::Count(CountWindow::new(n)),
        SlidingWindow::Time { duration, buckets } => {
            Window::Time(TimeWindow::new(buckets, nanos(duration / buckets)))
        }
    }
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CircuitBreaker")
            .field("name", self.telemetry.name())
            .field("state", &self.word().state())
            .finish_non_exhaustive()
    }
}
