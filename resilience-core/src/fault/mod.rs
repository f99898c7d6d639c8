//! Fault injection: make a dependency slow, failing or hung on purpose — by rate, seeded,
//! switchable at run time, off by default — to see what the rest of the stack does about
//! it before production shows you.
//!
//! ```
//! use std::time::Duration;
//! use resilience_core::fault::Fault;
//! use resilience_core::{ErrorKind, outcome};
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
//! let fault = Fault::builder()
//!     .name("inventory")
//!     .seed(7)
//!     .latency(0.2, Duration::from_millis(100), Duration::from_millis(400))
//!     .error_rate(0.1)
//!     .build()
//!     .expect("valid config");
//!
//! // Off by default: calls go straight through.
//! let call = || outcome::lift(async { Ok::<_, std::io::Error>("in stock") });
//! assert_eq!(fault.inject(call()).await.unwrap().unwrap(), "in stock");
//!
//! // Switched on (from an admin endpoint, a test, a chaos schedule): about one call in
//! // ten fails with `FaultInjected`, one in five is delayed.
//! fault.enable();
//! let mut failed = 0;
//! for _ in 0..1_000 {
//!     if let Err(err) = fault.inject(call()).await {
//!         assert_eq!(err.kind(), ErrorKind::FaultInjected);
//!         failed += 1;
//!     }
//! }
//! assert!((50..150).contains(&failed), "{failed}");
//! # }
//! ```
//!
//! # Why
//!
//! A breaker that never opened in a test, a retry budget never spent, a deadline never
//! reached: their configuration is a guess until something fails. Injecting the failures
//! they are for — answers that are slow, errors, connections reset, requests that never
//! come back — shows whether the guess holds, in a test or on a staging system under real
//! traffic. This is Polly's chaos strategies and Envoy's fault filter, as one primitive.
//!
//! # What it injects
//!
//! Each call draws once:
//!
//! - **latency** (a share of calls, independent of the rest): the operation starts late,
//!   by a duration drawn uniformly from a range;
//! - then at most one of: an **error answer** (an
//!   [`ErrorKind::FaultInjected`](crate::ErrorKind::FaultInjected) error, or an answer of
//!   the caller's choosing — an HTTP status in the tower layer), an **abort** (an
//!   `FaultInjected` error: a reset connection, as the caller sees it), a **hang** (the
//!   call never completes; the caller's timeout or deadline has to end it). In none of
//!   the three is the operation called.
//!
//! `FaultInjected` is not a rejection and is transient by default: breakers count it and
//! retries retry it, as they would the failure it stands for.
//!
//! # Seeded, switchable, cheap
//!
//! The draws are a seeded sequence (splitmix64 over one atomic counter): the same seed
//! and rates give the same faults to the first, second, third ... call, so a failing run
//! can be run again. [`Fault::enable`] and [`Fault::disable`] switch every clone at once.
//! Disabled, a call costs one relaxed atomic load; enabled, one atomic add, a few
//! multiplications and comparisons — no lock, no allocation, no clock read unless a
//! latency is injected.

mod config;
mod guard;

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use arc_swap::ArcSwap;
use metrics::Counter;

pub use config::FaultBuilder;
pub use guard::{Answer, FailWith, Injected};

use crate::Name;
use crate::rng::{self, GAMMA};
use crate::telemetry::{fault as kind, label, metric};

/// A fault injector: cheap to clone, every clone shares the switch and the draws.
///
/// Built with [`Fault::builder`]; used with [`inject`](Self::inject) (a future that
/// suffers the drawn fault) or [`decide`](Self::decide) (the draw alone, for code that
/// applies it itself, such as a tower layer).
#[derive(Clone)]
pub struct Fault {
    shared: Arc<Shared>,
}

/// What one call gets: an optional delay, then an action.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Injection {
    /// How long the operation starts late (`None`: on time).
    pub delay: Option<Duration>,
    /// What happens after the delay.
    pub action: Action,
}

impl Injection {
    /// Nothing injected: the call goes through on time.
    pub const NONE: Self = Self {
        delay: None,
        action: Action::Proceed,
    };

    /// Whether the call goes through on time, untouched.
    pub fn is_none(&self) -> bool {
        *self == Self::NONE
    }
}

/// What happens to a call after its injected delay.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Action {
    /// The operation is called.
    Proceed,
    /// The call gets the error answer instead.
    Answer,
    /// The call fails with `FaultInjected` instead.
    Abort,
    /// The call never completes.
    Hang,
}

impl Action {
    /// The value of the `fault` metric label for this action (`None` for `Proceed`).
    pub const fn as_str(self) -> Option<&'static str> {
        match self {
            Action::Proceed => None,
            Action::Answer => Some(kind::ERROR),
            Action::Abort => Some(kind::ABORT),
            Action::Hang => Some(kind::HANG),
        }
    }
}

/// A fault's configuration and switch, for a health or admin endpoint.
///
/// With feature `serde` it serializes with the field names below, `latency` as
/// `[min, max]` in seconds.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct FaultSnapshot {
    /// Its name.
    pub name: Name,
    /// Whether it injects now.
    pub enabled: bool,
    /// Share of calls delayed.
    pub latency_rate: f64,
    /// Range of the delay.
    #[cfg_attr(
        feature = "serde",
        serde(serialize_with = "crate::ser::duration_range_secs")
    )]
    pub latency: (Duration, Duration),
    /// Share of calls given the error answer.
    pub error_rate: f64,
    /// Share of calls aborted.
    pub abort_rate: f64,
    /// Share of calls hung.
    pub hang_rate: f64,
}

/// 2^53: draws and thresholds are 53-bit, so a rate of 1 is above every draw.
const SCALE: f64 = (1_u64 << 53) as f64;

fn threshold(rate: f64) -> u64 {
    (rate * SCALE) as u64
}

fn unit(draw: u64) -> f64 {
    (draw >> 11) as f64 / SCALE
}

pub(super) struct Shared {
    name: Name,
    enabled: AtomicBool,
    /// The rates and seed, and the calls drawn under them, swapped whole by
    /// [`Fault::reconfigure`].
    tuned: ArcSwap<Tuned>,
    /// Serialises [`Fault::reconfigure`].
    writer: Mutex<()>,
    meters: Meters,
}

/// The rates and seed in force.
pub(crate) struct Tuned {
    seed: u64,
    /// Calls drawn under this seed: a draw counts in the settings it read, so a call
    /// racing a reconfiguration never takes a number of the new seed's sequence.
    calls: AtomicU64,
    /// Cumulative thresholds: below the first, abort; the second, answer; the third, hang.
    actions: [u64; 3],
    rates: [f64; 3],
    latency_threshold: u64,
    latency_rate: f64,
    latency: (Duration, Duration),
}

impl Tuned {
    pub(super) fn new(
        seed: u64,
        [abort, error, hang]: [f64; 3],
        (latency_rate, min, max): (f64, Duration, Duration),
    ) -> Self {
        Self {
            seed,
            calls: AtomicU64::new(0),
            actions: [
                threshold(abort),
                threshold(abort + error),
                threshold(abort + error + hang),
            ],
            rates: [abort, error, hang],
            latency_threshold: threshold(latency_rate),
            latency_rate,
            latency: (min, max),
        }
    }
}

struct Meters {
    latency: Counter,
    error: Counter,
    abort: Counter,
    hang: Counter,
}

impl Shared {
    pub(super) fn new(name: Name, enabled: bool, tuned: Tuned) -> Self {
        let counter = |fault: &'static str| {
            metrics::counter!(
                metric::FAULTS_INJECTED_TOTAL,
                label::NAME => name.to_shared_string(),
                label::FAULT => fault,
            )
        };
        let meters = Meters {
            latency: counter(kind::LATENCY),
            error: counter(kind::ERROR),
            abort: counter(kind::ABORT),
            hang: counter(kind::HANG),
        };
        Self {
            enabled: AtomicBool::new(enabled),
            tuned: ArcSwap::from_pointee(tuned),
            writer: Mutex::new(()),
            meters,
            name,
        }
    }

    fn draw(&self) -> Injection {
        let tuned = self.tuned.load();
        let n = tuned.calls.fetch_add(1, Ordering::Relaxed);
        let draw = mix(tuned.seed ^ n.wrapping_mul(GAMMA));
        let pick = draw >> 11;
        let action = if pick < tuned.actions[0] {
            Action::Abort
        } else if pick < tuned.actions[1] {
            Action::Answer
        } else if pick < tuned.actions[2] {
            Action::Hang
        } else {
            Action::Proceed
        };
        let delay = (action != Action::Hang && tuned.latency_threshold > 0)
            .then(|| mix(draw))
            .filter(|second| second >> 11 < tuned.latency_threshold)
            .map(|second| {
                let (min, max) = tuned.latency;
                min + (max - min).mul_f64(unit(mix(second)))
            });
        if delay.is_some() {
            self.meters.latency.increment(1);
        }
        match action {
            Action::Abort => self.meters.abort.increment(1),
            Action::Answer => self.meters.error.increment(1),
            Action::Hang => self.meters.hang.increment(1),
            Action::Proceed => {}
        }
        if action != Action::Proceed || delay.is_some() {
            tracing::debug!(
                fault = %self.name,
                action = action.as_str().unwrap_or("none"),
                delay_ms = delay.map_or(0, |d| d.as_millis() as u64),
                "fault injected",
            );
        }
        Injection { delay, action }
    }
}

/// One splitmix64 step: spreads a counter into well-mixed bits.
fn mix(x: u64) -> u64 {
    rng::mix(x.wrapping_add(GAMMA))
}

impl Fault {
    /// A builder with the defaults: off, seed 0, nothing injected.
    pub fn builder() -> FaultBuilder {
        FaultBuilder::default()
    }

    pub(super) fn from_shared(shared: Shared) -> Self {
        Self {
            shared: Arc::new(shared),
        }
    }

    /// Its name.
    pub fn name(&self) -> &Name {
        &self.shared.name
    }

    /// Starts injecting, for every clone.
    pub fn enable(&self) {
        self.set_enabled(true);
    }

    /// Stops injecting, for every clone: calls already delayed or hung stay so.
    pub fn disable(&self) {
        self.set_enabled(false);
    }

    /// Switches injection on or off, for every clone.
    pub fn set_enabled(&self, enabled: bool) {
        self.shared.enabled.store(enabled, Ordering::Relaxed);
    }

    /// Whether it injects now.
    pub fn is_enabled(&self) -> bool {
        self.shared.enabled.load(Ordering::Relaxed)
    }

    /// Applies `builder`'s switch, seed, latency and rates to this fault in place, for
    /// every clone at once; it keeps its name. The next call is drawn under the new
    /// settings: `enabled(true)` switches a game day on, `enabled(false)` off (calls
    /// already delayed or hung stay so). A new seed restarts the sequence of draws, so
    /// the calls after it get the faults the first calls of a fault built with that seed
    /// get; an unchanged seed continues the sequence.
    ///
    /// ```
    /// use resilience_core::fault::{Action, Fault};
    ///
    /// let fault = Fault::builder().error_rate(1.0).build().unwrap();
    /// assert!(fault.decide().is_none(), "off by default");
    /// fault
    ///     .reconfigure(Fault::builder().enabled(true).abort_rate(1.0))
    ///     .unwrap();
    /// assert_eq!(fault.decide().action, Action::Abort);
    /// ```
    ///
    /// # Errors
    ///
    /// The options are invalid, as [`build`](FaultBuilder::build) would say; the fault is
    /// unchanged then.
    pub fn reconfigure(&self, builder: FaultBuilder) -> Result<(), crate::ConfigError> {
        let (enabled, next) = builder.check()?;
        let s = &*self.shared;
        let _one_writer = s.writer.lock().unwrap_or_else(PoisonError::into_inner);
        let live = s.tuned.load();
        if live.seed == next.seed {
            // The same sequence goes on.
            next.calls
                .store(live.calls.load(Ordering::Relaxed), Ordering::Relaxed);
        }
        s.tuned.store(Arc::new(next));
        s.enabled.store(enabled, Ordering::Relaxed);
        Ok(())
    }

    /// Draws what the next call gets ([`Injection::NONE`] while disabled), and counts it
    /// in the `resilience_faults_injected_total` metric.
    #[inline]
    pub fn decide(&self) -> Injection {
        if self.shared.enabled.load(Ordering::Relaxed) {
            self.shared.draw()
        } else {
            Injection::NONE
        }
    }

    /// Runs `operation` (a future producing an [`Outcome`](crate::outcome::Outcome))
    /// under the next draw: delayed, failed with `FaultInjected` (error answers and
    /// aborts alike), hung, or untouched. The operation is not polled before its delay,
    /// and not at all when the call fails or hangs.
    #[inline]
    pub fn inject<F>(&self, operation: F) -> Injected<F, FailWith> {
        Injected::new(self.decide(), operation, FailWith)
    }

    /// The configuration and switch, for a health or admin endpoint.
    pub fn snapshot(&self) -> FaultSnapshot {
        let s = self.shared.tuned.load();
        FaultSnapshot {
            name: self.shared.name.clone(),
            enabled: self.is_enabled(),
            latency_rate: s.latency_rate,
            latency: s.latency,
            error_rate: s.rates[1],
            abort_rate: s.rates[0],
            hang_rate: s.rates[2],
        }
    }

    /// Whether `self` and `other` are the same fault (clones of one handle).
    pub fn same_as(&self, other: &Fault) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }
}

impl fmt::Debug for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Fault")
            .field("name", &self.shared.name)
            .field("enabled", &self.is_enabled())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fault(b: FaultBuilder) -> Fault {
        b.enabled(true).build().expect("valid config")
    }

    #[test]
    fn disabled_fault_draws_nothing_and_does_not_advance_the_sequence() {
        let a = Fault::builder().error_rate(1.0).build().unwrap();
        assert_eq!(a.decide(), Injection::NONE);
        a.enable();
        assert_eq!(a.decide().action, Action::Answer);
        a.disable();
        assert_eq!(a.decide(), Injection::NONE);
        assert_eq!(a.shared.tuned.load().calls.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn a_draw_racing_a_new_seed_does_not_shift_the_new_sequence() {
        let build = |seed| {
            Fault::builder()
                .seed(seed)
                .latency(0.5, Duration::from_millis(1), Duration::from_millis(9))
                .error_rate(0.3)
        };
        let fresh = fault(build(7));
        let expected: Vec<_> = (0..50).map(|_| fresh.decide()).collect();
        let live = fault(build(3));
        for _ in 0..10 {
            let _ = live.decide();
        }
        // A call that read the old settings, and counts after the reload.
        let racing = live.shared.tuned.load_full();
        live.reconfigure(build(7).enabled(true)).unwrap();
        racing.calls.fetch_add(1, Ordering::Relaxed);
        let got: Vec<_> = (0..50).map(|_| live.decide()).collect();
        assert_eq!(got, expected, "the new seed's sequence from its first draw");
        // The same seed again: the sequence goes on.
        live.reconfigure(build(7).enabled(true)).unwrap();
        assert_eq!(live.decide(), fresh.decide());
    }

    #[test]
    fn same_seed_gives_the_same_sequence_and_another_seed_does_not() {
        let build = |seed| {
            fault(
                Fault::builder()
                    .seed(seed)
                    .latency(0.3, Duration::from_millis(1), Duration::from_millis(9))
                    .error_rate(0.2)
                    .abort_rate(0.1)
                    .hang_rate(0.1),
            )
        };
        let (a, b, c) = (build(5), build(5), build(6));
        let draws = |f: &Fault| (0..200).map(|_| f.decide()).collect::<Vec<_>>();
        let (da, db, dc) = (draws(&a), draws(&b), draws(&c));
        assert_eq!(da, db);
        assert_ne!(da, dc);
    }

    #[test]
    fn rates_hold_over_many_draws_and_delays_stay_in_range() {
        let (min, max) = (Duration::from_millis(10), Duration::from_millis(20));
        let f = fault(
            Fault::builder()
                .seed(1)
                .latency(0.25, min, max)
                .error_rate(0.1)
                .abort_rate(0.05)
                .hang_rate(0.15),
        );
        let n = 100_000;
        let (mut delayed, mut answer, mut abort, mut hang) = (0, 0, 0, 0);
        for _ in 0..n {
            let injection = f.decide();
            if let Some(d) = injection.delay {
                assert!((min..=max).contains(&d), "{d:?}");
                assert_ne!(injection.action, Action::Hang, "a hang is never delayed");
                delayed += 1;
            }
            match injection.action {
                Action::Answer => answer += 1,
                Action::Abort => abort += 1,
                Action::Hang => hang += 1,
                _ => {}
            }
        }
        let share = |k: i32| f64::from(k) / f64::from(n);
        // Latency is drawn for the calls that do not hang: 85% of them.
        assert!((share(delayed) - 0.25 * 0.85).abs() < 0.01, "{delayed}");
        assert!((share(answer) - 0.10).abs() < 0.01, "{answer}");
        assert!((share(abort) - 0.05).abs() < 0.01, "{abort}");
        assert!((share(hang) - 0.15).abs() < 0.01, "{hang}");
    }

    #[test]
    fn rate_of_one_always_injects_and_zero_never() {
        let always = fault(Fault::builder().hang_rate(1.0));
        let never = fault(Fault::builder().latency(0.0, Duration::ZERO, Duration::ZERO));
        for _ in 0..10_000 {
            assert_eq!(always.decide().action, Action::Hang);
            assert!(never.decide().is_none());
        }
    }

    #[test]
    fn invalid_rates_and_ranges_are_config_errors_naming_the_option() {
        let ms = Duration::from_millis;
        let cases = [
            (Fault::builder().error_rate(f64::NAN), "error_rate"),
            (Fault::builder().abort_rate(-0.1), "abort_rate"),
            (Fault::builder().hang_rate(1.5), "hang_rate"),
            (
                Fault::builder()
                    .error_rate(0.6)
                    .abort_rate(0.3)
                    .hang_rate(0.2),
                "hang_rate",
            ),
            (Fault::builder().latency(0.1, ms(20), ms(10)), "latency"),
            (Fault::builder().latency(0.1, ms(0), ms(0)), "latency"),
            (
                Fault::builder().latency(f64::INFINITY, ms(1), ms(2)),
                "latency",
            ),
        ];
        for (builder, option) in cases {
            let err = builder.build().unwrap_err();
            assert_eq!(err.option(), option, "{err}");
        }
    }

    #[test]
    fn clones_share_the_switch_and_the_snapshot_reports_it() {
        let f = Fault::builder().name("db").error_rate(0.5).build().unwrap();
        let clone = f.clone();
        clone.enable();
        assert!(f.is_enabled() && f.same_as(&clone));
        let snapshot = f.snapshot();
        assert_eq!(snapshot.name, "db");
        assert!(snapshot.enabled);
        assert_eq!(snapshot.error_rate, 0.5);
    }
}
