//! Property test: the breaker against a small reference model, step by step.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use proptest::prelude::*;
use resilience_core::circuit_breaker::{CircuitBreaker, Permit, State};
use resilience_core::{Class, ErrorKind};

use crate::ms;

#[derive(Clone, Debug)]
enum Window {
    Count(u32),
    Time { buckets: u32, bucket_ms: u64 },
}

#[derive(Clone, Debug)]
struct Cfg {
    window: Window,
    minimum_calls: u32,
    failure_rate: Option<f64>,
    slow: Option<(u64, f64)>,
    consecutive: Option<u32>,
    open_ms: u64,
    growth: Option<(f64, u64)>,
    half_open_calls: u32,
    max_half_open_ms: u64,
}

#[derive(Clone, Copy, Debug)]
enum Op {
    Acquire,
    Complete { index: usize, how: u8 },
    Advance(u64),
    Control(u8),
}

fn cfg() -> impl Strategy<Value = Cfg> {
    let window = prop_oneof![
        (1_u32..8).prop_map(Window::Count),
        (1_u32..4, 50_u64..200)
            .prop_map(|(buckets, bucket_ms)| Window::Time { buckets, bucket_ms }),
    ];
    (
        window,
        1_u32..8,
        prop_oneof![
            Just(None),
            Just(Some(0.25)),
            Just(Some(0.5)),
            Just(Some(1.0))
        ],
        prop_oneof![Just(None), Just(Some((40_u64, 0.5)))],
        prop_oneof![Just(None), (1_u32..4).prop_map(Some)],
        (1_u64..4).prop_map(|n| n * 100),
        prop_oneof![Just(None), Just(Some((2.0, 700_u64)))],
        1_u32..4,
        (2_u64..8).prop_map(|n| n * 100),
    )
        .prop_map(
            |(window, min, failure_rate, slow, consecutive, open_ms, growth, half, max_half)| {
                let minimum_calls = match window {
                    Window::Count(n) => min.min(n),
                    Window::Time { .. } => min,
                };
                let failure_rate = if slow.is_none() && consecutive.is_none() {
                    failure_rate.or(Some(0.5))
                } else {
                    failure_rate
                };
                Cfg {
                    window,
                    minimum_calls,
                    failure_rate,
                    slow,
                    consecutive,
                    open_ms,
                    growth,
                    half_open_calls: half,
                    max_half_open_ms: max_half,
                }
            },
        )
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => Just(Op::Acquire),
        6 => (any::<usize>(), 0_u8..4).prop_map(|(index, how)| Op::Complete { index, how }),
        3 => (0_u64..250).prop_map(Op::Advance),
        1 => (0_u8..3).prop_map(Op::Control),
    ]
}

fn build(c: &Cfg) -> CircuitBreaker {
    let mut b = CircuitBreaker::builder()
        .minimum_calls(c.minimum_calls)
        .open_duration(ms(c.open_ms))
        .half_open_calls(c.half_open_calls)
        .max_half_open_duration(ms(c.max_half_open_ms));
    b = match c.window {
        Window::Count(n) => b.count_window(n),
        Window::Time { buckets, bucket_ms } => {
            b.time_window_buckets(ms(bucket_ms * u64::from(buckets)), buckets)
        }
    };
    b = match c.failure_rate {
        Some(r) => b.failure_rate_threshold(r),
        None => b.without_failure_rate(),
    };
    if let Some((d, r)) = c.slow {
        b = b.slow_calls(ms(d), r);
    }
    if let Some(n) = c.consecutive {
        b = b.consecutive_failures(n);
    }
    if let Some((m, max)) = c.growth {
        b = b.open_duration_growth(m, ms(max));
    }
    b.build().expect("generated configs are valid")
}

/// A permit as the model sees it: the epoch it was admitted in and when.
#[derive(Clone, Copy, Debug)]
struct MPermit {
    state: State,
    generation: u64,
    start: u64,
}

/// The reference: plain fields, plain arithmetic, one thread.
struct Model {
    c: Cfg,
    state: State,
    generation: u64,
    /// Count window: outcomes (failure, slow), oldest first.
    ring: VecDeque<(bool, bool)>,
    /// Time window: per time slice, (calls, failures, slow).
    slices: HashMap<u64, (u32, u32, u32)>,
    consecutive: u32,
    open_until: u64,
    entered_at: u64,
    trips: u32,
    in_flight: u32,
    successes: u32,
}

impl Model {
    fn new(c: Cfg) -> Self {
        Self {
            c,
            state: State::Closed,
            generation: 0,
            ring: VecDeque::new(),
            slices: HashMap::new(),
            consecutive: 0,
            open_until: 0,
            entered_at: 0,
            trips: 0,
            in_flight: 0,
            successes: 0,
        }
    }

    fn totals(&self, now: u64) -> (u32, u32, u32) {
        match self.c.window {
            Window::Count(_) => self.ring.iter().fold((0, 0, 0), |(c, f, s), &(fa, sl)| {
                (c + 1, f + u32::from(fa), s + u32::from(sl))
            }),
            Window::Time { buckets, bucket_ms } => {
                let tick = now / (bucket_ms * 1_000_000);
                let mut t = (0, 0, 0);
                for (slice, (c, f, s)) in &self.slices {
                    if *slice + u64::from(buckets) > tick && *slice <= tick {
                        t = (t.0 + c, t.1 + f, t.2 + s);
                    }
                }
                t
            }
        }
    }

    fn open_duration(&self, trips: u32) -> Duration {
        let base = ms(self.c.open_ms);
        match self.c.growth {
            None => base,
            Some((m, max)) => {
                let secs = base.as_secs_f64() * m.powi(trips as i32 - 1);
                if secs < ms(max).as_secs_f64() {
                    Duration::from_secs_f64(secs)
                } else {
                    ms(max)
                }
            }
        }
    }

    fn transition(&mut self, to: State, now: u64) {
        match to {
            State::Open => {
                self.trips = if self.state == State::Closed {
                    1
                } else {
                    self.trips + 1
                };
                self.open_until = now + self.open_duration(self.trips).as_nanos() as u64;
            }
            State::Closed => {
                self.ring.clear();
                self.slices.clear();
                self.consecutive = 0;
                self.trips = 0;
            }
            _ => {}
        }
        self.entered_at = now;
        self.state = to;
        self.generation += 1;
        // Probes in flight keep their slots across states until they end.
        self.successes = 0;
    }

    /// `Ok(permit)` or `Err(retry_after)`.
    fn acquire(&mut self, now: u64) -> Result<MPermit, Option<Duration>> {
        loop {
            let permit = MPermit {
                state: self.state,
                generation: self.generation,
                start: now,
            };
            match self.state {
                State::Closed | State::Disabled => return Ok(permit),
                State::ForcedOpen => return Err(None),
                State::Open if now < self.open_until => {
                    return Err(Some(Duration::from_nanos(self.open_until - now)));
                }
                State::Open => self.transition(State::HalfOpen, now),
                State::HalfOpen => {
                    if self.in_flight + self.successes < self.c.half_open_calls {
                        self.in_flight += 1;
                        return Ok(permit);
                    }
                    if now - self.entered_at < self.c.max_half_open_ms * 1_000_000 {
                        return Err(None);
                    }
                    self.transition(State::Open, now);
                }
                _ => unreachable!(),
            }
        }
    }

    /// `how`: 0 success, 1 failure, 2 benign, 3 cancelled.
    fn complete(&mut self, p: MPermit, how: u8, now: u64) {
        let slow = self
            .c
            .slow
            .is_some_and(|(d, _)| now - p.start >= d * 1_000_000);
        if p.state == State::HalfOpen {
            // A probe gives its slot back whatever episode it belongs to; only a probe of
            // the current episode moves the state.
            let current = p.generation == self.generation;
            let failed = how == 1 || (how == 0 && slow);
            if current && failed {
                self.transition(State::Open, now);
            }
            self.in_flight -= 1;
            if current && how == 0 && !failed {
                self.successes += 1;
                if self.successes >= self.c.half_open_calls {
                    self.transition(State::Closed, now);
                }
            }
            return;
        }
        if p.generation != self.generation {
            return;
        }
        match p.state {
            State::Closed if how <= 1 => {
                let failure = how == 1;
                match self.c.window {
                    Window::Count(n) => {
                        if self.ring.len() == n as usize {
                            self.ring.pop_front();
                        }
                        self.ring.push_back((failure, slow));
                    }
                    Window::Time { bucket_ms, .. } => {
                        let e = self
                            .slices
                            .entry(now / (bucket_ms * 1_000_000))
                            .or_default();
                        *e = (e.0 + 1, e.1 + u32::from(failure), e.2 + u32::from(slow));
                    }
                }
                let mut trip = false;
                if let Some(limit) = self.c.consecutive {
                    self.consecutive = if failure { self.consecutive + 1 } else { 0 };
                    trip = self.consecutive >= limit;
                }
                let (calls, failures, slows) = self.totals(now);
                if calls >= self.c.minimum_calls {
                    let over = |n: u32, r: f64| {
                        let ppm = (r * 1e6).round() as u64;
                        u64::from(n) * 1_000_000 >= ppm * u64::from(calls)
                    };
                    trip |= self.c.failure_rate.is_some_and(|r| over(failures, r));
                    trip |= self.c.slow.is_some_and(|(_, r)| over(slows, r));
                }
                if trip {
                    self.transition(State::Open, now);
                }
            }
            _ => {}
        }
    }
}

fn run(c: Cfg, ops: Vec<Op>) -> Result<(), TestCaseError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    rt.block_on(async move {
        let breaker = build(&c);
        let mut model = Model::new(c);
        let mut now = 0_u64;
        let mut held: Vec<(Permit<'_>, MPermit)> = Vec::new();
        for (step, op) in ops.into_iter().enumerate() {
            match op {
                Op::Acquire => match (breaker.try_acquire(), model.acquire(now)) {
                    (Ok(p), Ok(m)) => held.push((p, m)),
                    (Err(e), Err(hint)) => {
                        prop_assert_eq!(e.kind(), ErrorKind::CircuitOpen);
                        prop_assert_eq!(e.retry_after(), hint, "step {}", step);
                    }
                    (real, expected) => {
                        return Err(TestCaseError::fail(format!(
                            "step {step}: admit differs: real {:?}, model {:?}",
                            real.map(|_| ()),
                            expected.map(|_| ())
                        )));
                    }
                },
                Op::Complete { index, how } if !held.is_empty() => {
                    let (permit, m) = held.swap_remove(index % held.len());
                    match how {
                        0 => permit.record(Class::Success),
                        1 => permit.record(Class::Permanent),
                        2 => permit.record(Class::Benign),
                        _ => drop(permit),
                    }
                    model.complete(m, how, now);
                }
                Op::Complete { .. } => {}
                Op::Advance(n) => {
                    tokio::time::advance(ms(n)).await;
                    now += n * 1_000_000;
                }
                Op::Control(k) => {
                    let to = match k {
                        0 => {
                            breaker.force_open();
                            State::ForcedOpen
                        }
                        1 => {
                            breaker.disable();
                            State::Disabled
                        }
                        _ => {
                            breaker.reset();
                            State::Closed
                        }
                    };
                    model.transition(to, now);
                }
            }
            prop_assert_eq!(breaker.state(), model.state, "step {}: {:?}", step, op);
            let probes = held
                .iter()
                .filter(|(_, m)| m.state == State::HalfOpen)
                .count();
            prop_assert_eq!(
                probes,
                model.in_flight as usize,
                "step {}: probes in flight",
                step
            );
            prop_assert!(
                probes <= model.c.half_open_calls as usize,
                "step {}: {} probes in flight, limit {}",
                step,
                probes,
                model.c.half_open_calls
            );
            let snap = breaker.snapshot();
            let (calls, failures, slow) = model.totals(now);
            prop_assert_eq!(
                (snap.calls, snap.failed_calls, snap.slow_calls),
                (calls, failures, slow),
                "step {}: window totals",
                step
            );
        }
        Ok(())
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn breaker_matches_the_reference_model_at_every_step(
        c in cfg(),
        ops in proptest::collection::vec(op(), 1..120),
    ) {
        run(c, ops)?;
    }
}
